/*
 * Refuge referral page: a UN Special Procedures submission draft, assembled in this browser.
 *
 * For referrals of kind sp_urgent_appeal, sp_allegation_letter and sp_legislation, the caseworker
 * asks for a draft; this script fetches the case's ciphertext (GET /cases/<ref>/sealed, the same
 * bundle case-view.js reads), opens the answers with the organisation key pair from
 * window.RefugeKeyring, and writes an English plain-text draft that follows the nine questions
 * of the ISHR practical guide to the Special Procedures (sender, urgency, victims, consent, what
 * happened, perpetrators, context, action already taken, action requested), then the guide's
 * safety reminders as a checklist.
 *
 * Nothing of the draft is sent anywhere: no fetch, form or storage carries it. It goes into a
 * read-only textarea (.value, never HTML); the caseworker copies it into the UN online form.
 * It is wiped when the keyring locks.
 *
 * window.RefugeSpDraft.build(answers, facts) -> string is the pure part, exposed for tests.
 * window.RefugeSpDraft.mount(root, {build, facts, text}) and .text (the wording helpers) let
 * another draft of the same answers (reprisals-draft.js) share the keyring, decrypting and
 * copying machinery and the English labels instead of copying them.
 */
(function () {
  "use strict";

  const sealed = window.Refuge.sealed;
  const staff = window.Refuge.staff;
  const humanise = staff.humanise;
  const EMPTY = "(not provided)";

  // English wording of the intake form's choices (intake/public/forms.py), for the draft.
  const CHOICES = {
    sender_role: {
      self: "The person at risk",
      family: "A family member",
      lawyer: "Their lawyer",
      organisation: "An organisation",
      other: "Someone else",
    },
    safe_to_contact: { yes: "Yes", no: "No", unsure: "Not sure" },
    consent: {
      yes: "Yes, everyone named agreed",
      some: "Some of the people named agreed",
      no: "No, or not yet",
    },
    referral_consent: {
      yes: "Yes, it may be shared with organisations or UN mechanisms that can help",
      ask: "Ask the person before sharing it with anyone",
      no: "No, it must not be shared outside the organisation",
    },
  };

  // English labels of the routing vocabulary (intake/vocab.py); unknown codes as-is.
  const VOCAB = {
    threats: {
      violence_threat: "Threat of violence",
      physical_attack: "Physical attack",
      detention: "Detention or imprisonment",
      lawsuit: "Lawsuit or prosecution",
      rights_violation: "Violation of rights",
      discrimination: "Discrimination",
      expression: "Attack on freedom of expression",
      health: "Health emergency",
      aid_worker_security: "Security of aid workers",
      disappearance: "Enforced disappearance",
      reprisal: "Reprisal for cooperating with the UN",
      legislation: "Draft law or policy",
      digital: "Digital threat",
    },
    profiles: {
      journalist: "Journalist",
      freelance_journalist: "Freelance journalist",
      woman_hrd: "Woman human rights defender",
      lawyer: "Lawyer",
      aid_worker: "Aid worker",
      lgbti: "LGBTI defender",
      environmental_land: "Environmental or land defender",
      indigenous: "Indigenous defender",
      academic: "Academic",
      organisation: "Organisation",
      family_member: "Family member of a defender",
    },
    urgency: {
      immediate: "Immediate: life or liberty at risk now",
      days: "Within days",
      weeks: "Within weeks",
      not_urgent: "Not urgent",
    },
    kinds: {
      sp_urgent_appeal: "Urgent appeal",
      sp_allegation_letter: "Allegation letter",
      sp_legislation: "Communication on draft legislation or policy (other letter)",
    },
  };

  /*
   * The nine questions and the intake answers that answer them. [key, label] is always printed
   * ("(not provided)" when empty); [key, label, true] only when the answer has it (older
   * answer shapes). {fact: name, label} is a routing fact the page knows in the clear.
   */
  const SECTIONS = [
    {
      title: "1. Who is sending the information? (contact details)",
      fields: [
        ["sender_name", "Name"],
        ["sender_role", "Role in the situation"],
        ["sender_organisation", "Organisation"],
        ["sender_contact", "Contact details"],
        ["contact", "Contact", true],
        ["safe_to_contact", "Safe to contact"],
        ["safe_contact_notes", "How and when it is safe to contact"],
      ],
    },
    {
      title: "2. Is the situation urgent? Why? Is there a window for action?",
      fields: [
        { fact: "urgency", label: "Urgency (assessed at intake)" },
        ["urgency_reason", "Why it is urgent, and any date or window for action"],
        ["urgent_why", "Why it is urgent", true],
      ],
    },
    {
      title: "3. Who are the victims? (name, age, gender, origin and/or residence)",
      fields: [
        ["victim_name", "Name"],
        ["victim_age", "Age"],
        ["victim_gender", "Gender"],
        ["victim_origin", "Origin"],
        ["victim_residence", "Residence"],
        ["victims", "Victims", true],
        ["other_victims", "Other people affected"],
        { fact: "profiles", label: "Profile" },
      ],
    },
    {
      title: "4. Has consent been obtained?",
      fields: [
        ["consent", "Consent of the people named"],
        ["consent_by", "Consent given by"],
        ["referral_consent", "Consent to share the request"],
        { fact: "consent_given", label: "Consent to refer recorded in the case" },
      ],
    },
    {
      title: "5. What happened? (dates and places)",
      fields: [
        ["what_happened", "What happened"],
        ["when_happened", "When"],
        ["where_happened", "Where"],
        { fact: "country", label: "Country" },
        { fact: "threats", label: "Type of violation" },
      ],
    },
    {
      title: "6. Who are the alleged perpetrators? (names, titles or positions, possible motives)",
      fields: [["perpetrators", "Alleged perpetrators"]],
    },
    {
      title: "7. What is the context? (legal framework, wider situation)",
      fields: [["context", "Context"]],
    },
    {
      title: "8. What action has already been taken? (national or international, remedies sought)",
      fields: [["actions_taken", "Action already taken"]],
    },
    {
      title: "9. What action is requested from the Special Procedures?",
      fields: [
        ["wanted_actions", "What the person asks for"],
        { fact: "kind", label: "Communication requested" },
      ],
    },
  ];

  const CONFIDENTIAL = [
    ["reprisal_concerns", "Details to keep confidential"],
    ["others_at_risk", "Others who may be at risk (family, colleagues, organisation)"],
  ];

  const CHECKLIST = [
    "Consent: the victims named (or their family or lawyer) agreed to this submission, and the " +
      "draft says so. Consent recorded at intake: see question 4. The experts may ask for it " +
      "in writing.",
    "Confidentiality: ask the Special Procedures to keep the identity of the source " +
      "confidential, and mark every part that must not be shown to the government.",
    "No more than needed: give the experts what they need to act and nothing more. Remove " +
      "internal references, safe-contact notes and any detail that is not needed.",
    "Reprisal risk: consult everyone who could be affected (family, colleagues, the " +
      "organisation), assess the risk of reprisals and plan how to respond before you submit.",
    "Language and sources: English, French or Spanish; concise; recent or imminent events; " +
      "first-hand sources rather than the media.",
  ];

  // --- the draft (pure) ---------------------------------------------------------------------

  function isEmpty(value) {
    if (value === null || value === undefined) {
      return true;
    }
    if (typeof value === "string") {
      return !value.trim();
    }
    if (Array.isArray(value)) {
      return value.every(isEmpty);
    }
    if (typeof value === "object") {
      return Object.keys(value).every(function (key) {
        return isEmpty(value[key]);
      });
    }
    return false;
  }

  /* Any JSON value as plain text: lists one item a line, objects as "Key: value; …". */
  function plain(value) {
    if (isEmpty(value)) {
      return EMPTY;
    }
    if (typeof value === "boolean") {
      return value ? "Yes" : "No";
    }
    if (Array.isArray(value)) {
      return value
        .filter(function (item) {
          return !isEmpty(item);
        })
        .map(function (item) {
          return "- " + plain(item).replace(/\n/g, "\n  ");
        })
        .join("\n");
    }
    if (typeof value === "object") {
      return Object.keys(value)
        .filter(function (key) {
          return !isEmpty(value[key]);
        })
        .map(function (key) {
          return humanise(key) + ": " + plain(value[key]);
        })
        .join("; ");
    }
    return String(value).replace(/\r\n?/g, "\n").trim();
  }

  function answerText(key, value) {
    const options = CHOICES[key];
    if (options && typeof value === "string" && Object.prototype.hasOwnProperty.call(options, value)) {
      return options[value];
    }
    return plain(value);
  }

  function displayName(type, code) {
    try {
      const name = new Intl.DisplayNames(["en"], { type: type }).of(code);
      return name && name !== code ? name + " (" + code + ")" : code;
    } catch (e) {
      return code;
    }
  }

  function listOf(table, codes) {
    if (!Array.isArray(codes) || !codes.length) {
      return EMPTY;
    }
    return codes
      .map(function (code) {
        return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : String(code);
      })
      .join(", ");
  }

  function factText(name, facts) {
    switch (name) {
      case "urgency":
        return facts.urgency ? VOCAB.urgency[facts.urgency] || String(facts.urgency) : EMPTY;
      case "profiles":
        return listOf(VOCAB.profiles, facts.profiles);
      case "threats":
        return listOf(VOCAB.threats, facts.threats);
      case "consent_given":
        return facts.consent_given ? "Yes" : "No";
      case "country":
        return facts.country ? displayName("region", String(facts.country)) : EMPTY;
      case "languages":
        return Array.isArray(facts.languages) && facts.languages.length
          ? facts.languages
              .map(function (code) {
                return displayName("language", String(code));
              })
              .join(", ")
          : EMPTY;
      case "kind":
        return VOCAB.kinds[facts.kind] || humanise(facts.kind || "");
      default:
        return isEmpty(facts[name]) ? EMPTY : String(facts[name]);
    }
  }

  // The answers no section used, under a heading, so nothing the person wrote is dropped.
  function otherAnswers(out, answers, used, heading) {
    const others = Object.keys(answers).filter(function (key) {
      return !used[key] && !isEmpty(answers[key]);
    });
    if (others.length) {
      out.push("");
      out.push(heading);
      others.forEach(function (key) {
        out.push(line(humanise(key), answerText(key, answers[key])));
      });
    }
  }

  function line(label, value) {
    return value.indexOf("\n") >= 0 ? label + ":\n" + value : label + ": " + value;
  }

  function has(answers, key) {
    return Object.prototype.hasOwnProperty.call(answers, key);
  }

  function build(answers, facts) {
    if (!answers || typeof answers !== "object" || Array.isArray(answers)) {
      answers = { what_happened: answers };
    }
    facts = facts || {};
    const used = {};
    const out = [];
    out.push("UN SPECIAL PROCEDURES SUBMISSION - DRAFT");
    out.push(
      "Assembled in the caseworker's browser from the encrypted case. Review every line and " +
        "remove what is not needed before pasting it into the UN online form."
    );
    out.push("");
    out.push(line("Type of communication requested", factText("kind", facts)));
    out.push(line("Addressed to", facts.to ? String(facts.to) : EMPTY));
    out.push(line("Country concerned", factText("country", facts)));
    out.push(line("Languages of the person at risk", factText("languages", facts)));
    out.push(line("Request received", facts.received ? String(facts.received) : EMPTY));
    out.push(
      line(
        "Internal reference (remove before submitting)",
        (facts.ref ? String(facts.ref) : EMPTY) +
          (facts.referral_id ? ", referral " + String(facts.referral_id) : "")
      )
    );

    SECTIONS.forEach(function (section) {
      out.push("");
      out.push(section.title.toUpperCase());
      section.fields.forEach(function (field) {
        if (!Array.isArray(field)) {
          out.push(line(field.label, factText(field.fact, facts)));
          return;
        }
        const key = field[0];
        used[key] = true;
        if (field[2] && !has(answers, key)) {
          return;
        }
        out.push(line(field[1], answerText(key, answers[key])));
      });
    });

    out.push("");
    out.push("CONFIDENTIALITY REQUEST");
    out.push(
      "Please keep the identity of the source confidential and do not disclose the following " +
        "to the government."
    );
    CONFIDENTIAL.forEach(function (field) {
      used[field[0]] = true;
      out.push(line(field[1], answerText(field[0], answers[field[0]])));
    });

    otherAnswers(out, answers, used, "OTHER ANSWERS (not mapped to a question; check before using)");

    out.push("");
    out.push("BEFORE YOU SUBMIT (ISHR practical guide to the UN Special Procedures)");
    CHECKLIST.forEach(function (item) {
      out.push("[ ] " + item);
    });
    out.push("");
    out.push("UN online form: https://spsubmission.ohchr.org/");
    return out.join("\n") + "\n";
  }

  // --- the page: keyring, decrypt, textarea, copy (shared with reprisals-draft.js) ------------

  /*
   * Wire a draft section to the keyring. `root` holds the data-sp-* controls and a
   * data-sealed-url; `options.build(answers, facts)` writes the text; `options.text` holds the
   * notices (locked, no_keyring, ready, decrypting, assembled, no_key, failed, fetch_failed,
   * copied, copy_failed).
   */
  function mount(root, options) {
    const text = options.text;
    const facts = options.facts;
    const setNotice = staff.noticeSetter(root.querySelector("[data-sp-notice]"), text);
    const assemble = root.querySelector("[data-sp-assemble]");
    const output = root.querySelector("[data-sp-output]");
    const area = root.querySelector("[data-sp-text]");
    const copy = root.querySelector("[data-sp-copy]");
    const copyStatus = root.querySelector("[data-sp-copy-status]");
    let generation = 0;

    function clearDraft() {
      generation += 1;
      area.value = "";
      copyStatus.textContent = "";
      output.hidden = true;
    }

    function render() {
      const ring = staff.keyring();
      if (!ring) {
        clearDraft();
        assemble.hidden = true;
        setNotice("no_keyring", "locked");
        return;
      }
      if (!ring.isUnlocked()) {
        clearDraft();
        assemble.hidden = true;
        setNotice("locked", "locked");
        return;
      }
      assemble.hidden = false;
      assemble.disabled = false;
      if (output.hidden) {
        setNotice("ready", "unlocked");
      }
    }

    async function openAnswers(bundle) {
      const pair = await staff.orgKeyPair(bundle.org_key_id);
      if (!pair) {
        return { problem: "no_key" };
      }
      try {
        return { answers: sealed.openJson(bundle.sealed_answers, pair) };
      } catch (e) {
        return { problem: "failed" };
      }
    }

    async function assembleDraft() {
      const ring = staff.keyring();
      if (!ring || !ring.isUnlocked()) {
        render();
        return;
      }
      const mine = ++generation;
      assemble.disabled = true;
      setNotice("decrypting", "busy");
      let bundle;
      try {
        await sodium.ready;
        // A GET with no body: only the case reference in the URL goes to the server.
        bundle = await staff.fetchJson(root.getAttribute("data-sealed-url"));
      } catch (e) {
        if (mine === generation) {
          assemble.disabled = false;
          setNotice("fetch_failed", "error");
        }
        return;
      }
      const opened = await openAnswers(bundle);
      if (mine !== generation) {
        return; // locked (or asked again) while we were working
      }
      assemble.disabled = false;
      if (opened.problem) {
        setNotice(opened.problem, "error");
        return;
      }
      area.value = options.build(opened.answers, facts);
      copyStatus.textContent = "";
      output.hidden = false;
      setNotice("assembled", "unlocked");
      // The draft from its start, its label in sight: focused as it was, the tall box was
      // scrolled so that its label and first lines were above the screen (a review).
      area.focus({ preventScroll: true });
      area.setSelectionRange(0, 0);
      area.scrollTop = 0;
      output.scrollIntoView({ block: "start" });
    }

    async function copyDraft() {
      let ok = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(area.value);
          ok = true;
        }
      } catch (e) {
        ok = false;
      }
      if (!ok) {
        area.focus();
        area.select();
        try {
          ok = document.execCommand("copy");
        } catch (e) {
          ok = false;
        }
      }
      copyStatus.textContent = ok ? text.copied : text.copy_failed;
    }

    assemble.addEventListener("click", assembleDraft);
    copy.addEventListener("click", copyDraft);
    const ring = staff.keyring();
    if (ring) {
      ring.onChange(render);
    }
    // Leaving the page (or the back-forward cache) must not keep the draft around.
    window.addEventListener("pagehide", clearDraft);
    window.addEventListener("pageshow", render);
    render();
  }

  window.RefugeSpDraft = Object.freeze({
    build: build,
    mount: mount,
    choices: CHOICES,
    vocab: VOCAB,
    sections: SECTIONS.map(function (section) {
      return section.title;
    }),
    // The wording helpers, for other drafts built from the same answers (reprisals-draft.js).
    text: Object.freeze({
      EMPTY: EMPTY,
      isEmpty: isEmpty,
      answerText: answerText,
      factText: factText,
      line: line,
      has: has,
      otherAnswers: otherAnswers,
    }),
  });

  const root = document.getElementById("sp-draft");
  if (root) {
    mount(root, {
      build: build,
      facts: JSON.parse(document.getElementById("sp-draft-facts").textContent),
      text: JSON.parse(document.getElementById("sp-draft-strings").textContent),
    });
  }
})();
