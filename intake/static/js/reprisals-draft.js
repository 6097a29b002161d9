/*
 * Refuge referral page: the e-mail to ohchr-reprisals@un.org for the Secretary-General's annual
 * report on reprisals, assembled in this browser (issue 12).
 *
 * For referrals of kind reprisals_report. The keyring, decrypting, textarea and copy machinery
 * and the English wording of the answers are sp-draft.js's (window.RefugeSpDraft.mount and
 * .text); this file only says what the e-mail contains: who the person is, what happened and
 * when, the cooperation with the UN, the reprisal, the consent for the report, and whether the
 * case may be published or must stay confidential.
 *
 * Without consent for the reprisals report on record (facts.consent.on_record, from the
 * server's consent records) nothing is mounted, nothing is fetched and build() refuses: the
 * page says why. Nothing of the draft is sent anywhere.
 *
 * window.RefugeReprisalsDraft.build(answers, facts) -> string is the pure part, for tests.
 */
(function () {
  "use strict";

  const sp = window.RefugeSpDraft;
  const humanise = window.Refuge.staff.humanise;
  const EMPTY = sp.text.EMPTY;
  const line = sp.text.line;
  const answerText = sp.text.answerText;
  const factText = sp.text.factText;
  const ADDRESS = "ohchr-reprisals@un.org";

  // English wording of the consent records (intake/models/consent.py).
  const GIVERS = {
    person: "the person concerned",
    family: "their family",
    lawyer: "their lawyer",
    submitter: "whoever filled in the request form (see the form's consent answers)",
  };
  const CHANNELS = {
    intake_form: "in the request form",
    follow_up_message: "in a follow-up message",
    call_note: "in a call (noted by the caseworker)",
    status_page: "on the status page",
  };
  const KINDS = Object.assign({}, sp.vocab.kinds, {
    wgad_opinion: "Request for an opinion of the Working Group on Arbitrary Detention",
  });

  /*
   * The report's questions and the answers that fill them: [key, label] always printed,
   * {fact, label} a routing fact, {note} a line of guidance. Keys not used here are listed
   * under "other answers" for review, never silently dropped.
   */
  const SECTIONS = [
    {
      title: "1. Who is the person (or group) concerned?",
      fields: [
        ["victim_name", "Name"],
        ["victim_age", "Age"],
        ["victim_gender", "Gender"],
        ["victim_origin", "Origin"],
        ["victim_residence", "Residence"],
        ["other_victims", "Other people affected"],
        { fact: "profiles", label: "Profile" },
        { fact: "country", label: "Country" },
      ],
    },
    {
      title: "2. What happened, and when?",
      fields: [
        ["what_happened", "What happened"],
        ["when_happened", "When"],
        ["where_happened", "Where"],
      ],
    },
    {
      title: "3. Which UN body did they cooperate with?",
      fields: [
        {
          note:
            "UN body, mechanism or meeting, and when: [fill in - the request form does not ask " +
            "this; check What happened and Context]",
        },
        ["context", "Context"],
        { fact: "un_referrals", label: "UN mechanisms this organisation referred the case to" },
      ],
    },
    {
      title: "4. The reprisal",
      fields: [
        { fact: "threats", label: "Type of threat" },
        ["perpetrators", "Alleged perpetrators"],
        { fact: "urgency", label: "Urgency (assessed at intake)" },
        ["urgency_reason", "Why it is urgent"],
        ["actions_taken", "Action already taken (national or international)"],
        ["wanted_actions", "What the person asks for"],
      ],
    },
    {
      title: "5. Consent of the person or family for the report",
      fields: [
        { fact: "consent", label: "Consent to include the case in this report" },
        ["consent", "Consent of the people named (request form)"],
        ["consent_by", "Consent given by (request form)"],
        ["referral_consent", "Consent to share the request (request form)"],
      ],
    },
    {
      title: "6. May it be published, or must it stay confidential?",
      fields: [
        { fact: "publication", label: "Publication" },
        ["reprisal_concerns", "Details to keep confidential"],
        ["others_at_risk", "Others who may be at risk (family, colleagues, organisation)"],
      ],
    },
    {
      title: "Source of the information",
      fields: [
        ["sender_name", "Name"],
        ["sender_role", "Role in the situation"],
        ["sender_organisation", "Organisation"],
      ],
    },
  ];

  function known(table, code) {
    return Object.prototype.hasOwnProperty.call(table, code) ? table[code] : humanise(code || "");
  }

  function consentText(record) {
    return (
      "Given by " +
      known(GIVERS, record.given_by) +
      ", " +
      known(CHANNELS, record.given_via) +
      ", on " +
      (record.given_at || EMPTY)
    );
  }

  function reprisalsFact(name, facts) {
    switch (name) {
      case "consent":
        return consentText(facts.consent) + " (recorded by our organisation).";
      case "publication":
        return facts.publication
          ? "The case may be published. Consent to publication: " +
              consentText(facts.publication) +
              "."
          : "CONFIDENTIAL. No consent to publication is on record: please do not publish the " +
              "name or any detail that identifies the person, and treat this case confidentially.";
      case "un_referrals": {
        const rows = Array.isArray(facts.un_referrals) ? facts.un_referrals : [];
        if (!rows.length) {
          return "(none recorded)";
        }
        const bullet = rows.length > 1 ? "- " : "";
        return rows
          .map(function (row) {
            return (
              bullet +
              String(row.to) +
              " (" +
              known(KINDS, row.kind) +
              (row.submitted ? ", submitted " + row.submitted : ", not submitted yet") +
              ")"
            );
          })
          .join("\n");
      }
      default:
        return factText(name, facts);
    }
  }

  function period(facts) {
    return facts.period_first && facts.period_last
      ? facts.period_first + " to " + facts.period_last
      : EMPTY;
  }

  function build(answers, facts) {
    facts = facts || {};
    if (!facts.consent || facts.consent.on_record !== true) {
      // The page never gets here (nothing is mounted); the rule holds for any caller.
      throw new Error("No consent for the reprisals report is on record: no draft.");
    }
    if (!answers || typeof answers !== "object" || Array.isArray(answers)) {
      answers = { what_happened: answers };
    }
    const used = {};
    const year = facts.report_year ? String(facts.report_year) : "";
    const out = [];
    out.push("To: " + ADDRESS);
    out.push(
      "Subject: Information for the Secretary-General's report on reprisals" +
        (year ? " " + year : "") +
        " - case of reprisal for cooperation with the UN"
    );
    out.push("");
    out.push(
      "DRAFT assembled in the caseworker's browser from the encrypted case. Review every line " +
        "and remove what is not needed before sending."
    );
    out.push(
      line(
        "Internal reference (remove before sending)",
        (facts.ref ? String(facts.ref) : EMPTY) +
          (facts.referral_id ? ", referral " + String(facts.referral_id) : "")
      )
    );
    out.push("");
    out.push("Dear colleagues,");
    out.push("");
    out.push(
      "We submit the following case of intimidation or reprisal for cooperation with the " +
        "United Nations, its representatives and mechanisms in the field of human rights, for " +
        "the Secretary-General's annual report."
    );
    out.push(line("Reporting period", period(facts)));
    out.push(line("Request received by our organisation", facts.received || EMPTY));

    SECTIONS.forEach(function (section) {
      out.push("");
      out.push(section.title.toUpperCase());
      section.fields.forEach(function (field) {
        if (!Array.isArray(field)) {
          out.push(field.note || line(field.label, reprisalsFact(field.fact, facts)));
          return;
        }
        used[field[0]] = true;
        out.push(line(field[1], answerText(field[0], answers[field[0]])));
      });
    });

    sp.text.otherAnswers(
      out, answers, used, "OTHER ANSWERS (not asked for by the report; remove unless needed)"
    );

    out.push("");
    out.push("BEFORE YOU SEND");
    [
      "Consent: the person or their family agreed to this case being in the report (section " +
        "5), and to publication if section 6 says it may be published.",
      "Confidentiality: mark every detail that must not be published or shown to the " +
        "government.",
      "No more than needed: remove internal references, contact details and anything OHCHR " +
        "does not need.",
      "Reprisal risk: assess with the person the risk that reporting creates, and plan a " +
        "response.",
      "Deadline: send by 15 April" +
        (year ? " " + year : "") +
        "; later information goes into the next report.",
    ].forEach(function (item) {
      out.push("[ ] " + item);
    });
    return out.join("\n") + "\n";
  }

  window.RefugeReprisalsDraft = Object.freeze({
    build: build,
    givers: GIVERS,
    channels: CHANNELS,
    kinds: KINDS,
    sections: SECTIONS.map(function (section) {
      return section.title;
    }),
  });

  const root = document.getElementById("reprisals-draft");
  if (!root) {
    return;
  }
  const facts = JSON.parse(document.getElementById("reprisals-draft-facts").textContent);
  if (!facts.consent || facts.consent.on_record !== true) {
    return; // the page says why; no key is asked for and nothing is fetched
  }
  sp.mount(root, {
    build: build,
    facts: facts,
    text: JSON.parse(document.getElementById("reprisals-draft-strings").textContent),
  });
})();
