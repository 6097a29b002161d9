/* Refuge: "Immediate" guidance on the request form.
 *
 * When the person chooses "Immediate", ask the server which channels act now for the chosen
 * country and threats. Only those routing facts are sent (query parameters; never anything the
 * person wrote). The answer is shown with textContent only.
 *
 * The page also carries, folded, the channels for any emergency (#danger-now, for a person
 * without JavaScript): hidden while the tailored panel shows its own, so there is one.
 */
(function () {
  "use strict";
  const slot = document.getElementById("urgent-help");
  const form = document.getElementById("intake-form");
  const panel = document.getElementById("urgent-help-panel");
  const list = document.getElementById("urgent-channels");
  if (!slot || !form || !panel || !list || typeof fetch !== "function") {
    return;
  }
  const general = document.getElementById("danger-now");
  let asked = 0;

  function showGeneral(shown) {
    if (general) {
      general.hidden = !shown;
    }
  }

  function chosen(name) {
    return Array.from(form.querySelectorAll("[name='" + name + "']"))
      .filter(function (el) {
        return el.tagName === "SELECT" || el.checked;
      })
      .flatMap(function (el) {
        return el.tagName === "SELECT" ? Array.from(el.selectedOptions).map(function (o) { return o.value; }) : [el.value];
      })
      .filter(Boolean);
  }

  function kindLabel(kind) {
    const key = "kind" + kind.split("_").map(function (part) {
      return part.charAt(0).toUpperCase() + part.slice(1);
    }).join("");
    return panel.dataset[key] || kind;
  }

  const more = document.getElementById("urgent-more");
  const moreList = more ? more.querySelector("ul") : null;
  const moreCount = more ? more.querySelector("[data-more-count]") : null;

  // Only the schemes urgent_help.contact_href builds; anything else stays text.
  function safeHref(href) {
    return typeof href === "string" && /^(tel:|mailto:|https?:\/\/)/.test(href) ? href : "";
  }

  /* A label's colon in the page's language, with the space after it ("Téléphone : "). */
  const colon = panel.dataset.colon || ": ";

  function render(channels, shownFirst) {
    list.replaceChildren();
    if (moreList) {
      moreList.replaceChildren();
    }
    channels.forEach(function (channel, position) {
      const item = document.createElement("li");
      item.dataset.channel = channel.id;
      const name = document.createElement("strong");
      name.textContent = channel.name;
      item.appendChild(name);
      if (channel.reasons.length) {
        item.appendChild(document.createTextNode(colon + channel.reasons[0]));
      }
      if (channel.contacts.length) {
        const contacts = document.createElement("ul");
        for (const contact of channel.contacts) {
          const line = document.createElement("li");
          line.appendChild(document.createTextNode(kindLabel(contact.kind) + colon));
          const href = safeHref(contact.href);
          const value = document.createElement(href ? "a" : "span");
          value.className = "contact-value";
          value.dir = "ltr";
          value.textContent = contact.value;
          if (href) {
            value.href = href;
            if (href.indexOf("http") === 0) {
              value.target = "_blank";
              value.rel = "noopener noreferrer";
            }
          }
          line.appendChild(value);
          const place = contact.round_the_clock ? panel.dataset.roundTheClock : contact.place;
          if (place) {
            // Isolated, as the value is: an English place in an Arabic line keeps its order.
            // In the language's brackets, and after no space in Chinese: "（都柏林）".
            const note = document.createElement("bdi");
            note.textContent = (panel.dataset.brackets || "(%(text)s)").replace("%(text)s", place);
            line.append(document.documentElement.dataset.sentenceGap ?? " ", note);
          }
          contacts.appendChild(line);
        }
        item.appendChild(contacts);
      }
      (position < shownFirst || !moreList ? list : moreList).appendChild(item);
    });
    if (more) {
      const hidden = Math.max(0, channels.length - shownFirst);
      more.hidden = hidden === 0 || !moreList;
      if (moreCount) {
        moreCount.textContent = String(hidden);
      }
    }
  }

  async function update() {
    const urgency = chosen("urgency")[0] || "";
    if (urgency !== "immediate") {
      panel.hidden = true;
      showGeneral(true);
      return;
    }
    panel.hidden = false;
    const query = new URLSearchParams({ urgency: urgency });
    for (const threat of chosen("threats")) {
      query.append("threats", threat);
    }
    const country = chosen("country")[0];
    if (country) {
      query.append("country", country);
    }
    const mine = ++asked;
    try {
      const response = await fetch(slot.dataset.url + "?" + query.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok || mine !== asked) {
        return; // the general guidance stays; the channels are a help, not a requirement
      }
      const answer = await response.json();
      render(answer.channels || [], Number(answer.shown_first) || 0);
      showGeneral(false); // the tailored channels replace the general ones
    } catch (error) {
      // Offline: keep what is shown (the general channels too).
    }
  }

  form.addEventListener("change", function (event) {
    const name = event.target && event.target.name;
    if (name === "urgency" || name === "threats" || name === "country") {
      update();
    }
  });
  update();
})();
