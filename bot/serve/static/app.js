// talklike's chat page: one conversation per browser tab, kept in sessionStorage (the transcript, for a
// reload; the conversation id, so the server reads the turns before). Message text is only ever put in
// the page with textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const key = (name) => `talklike.${name}`;
  const BURST_GAP_MS = 350; // between the bubbles of one burst, as a person types them

  const state = { bots: [], strategies: [], bot: null, busy: false };

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // --- what the tab remembers ------------------------------------------------------------------
  const conversationId = () => {
    let id = store.getItem(key(`conversation.${state.bot}`));
    if (!id) {
      id = randomId();
      store.setItem(key(`conversation.${state.bot}`), id);
    }
    return id;
  };
  const transcript = () => {
    try {
      return JSON.parse(store.getItem(key(`transcript.${state.bot}`)) || "[]");
    } catch (e) {
      return [];
    }
  };
  const remember = (who, text) => {
    const turns = transcript();
    turns.push({ who, text });
    store.setItem(key(`transcript.${state.bot}`), JSON.stringify(turns.slice(-400)));
  };

  // --- the server ------------------------------------------------------------------------------
  class Unauthorised extends Error {}

  async function api(path, body) {
    const headers = { Accept: "application/json" };
    const token = store.getItem(key("token"));
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) throw new Unauthorised();
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) throw new Error((data && data.error) || `the server answered ${response.status}`);
    return data;
  }

  function askToken(problem) {
    return new Promise((resolve) => {
      const overlay = $("token-overlay");
      const note = $("token-problem");
      note.hidden = !problem;
      note.textContent = problem || "";
      overlay.hidden = false;
      $("token").focus();
      $("token-form").onsubmit = (event) => {
        event.preventDefault();
        store.setItem(key("token"), $("token").value.trim());
        overlay.hidden = true;
        resolve();
      };
    });
  }

  async function withToken(call) {
    let problem = null;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof Unauthorised)) throw error;
        if (store.getItem(key("token"))) problem = "That token was not accepted.";
        store.removeItem(key("token"));
        await askToken(problem);
      }
    }
  }

  // --- the page --------------------------------------------------------------------------------
  function bubble(who, text) {
    $("empty").hidden = true;
    const row = document.createElement("div");
    row.className = `row ${who}`;
    const b = document.createElement("div");
    b.className = `bubble ${who}`;
    b.textContent = text === "" ? "…" : text;
    row.appendChild(b);
    $("log").appendChild(row);
    row.scrollIntoView({ block: "end" });
    return row;
  }

  function typing(on) {
    const existing = document.querySelector(".row.typing");
    if (!on) {
      if (existing) existing.remove();
      return;
    }
    if (existing) return;
    const row = document.createElement("div");
    row.className = "row bot typing";
    row.setAttribute("aria-label", "typing");
    const b = document.createElement("div");
    b.className = "bubble dots";
    for (let i = 0; i < 3; i += 1) b.appendChild(document.createElement("span"));
    row.appendChild(b);
    $("log").appendChild(row);
    row.scrollIntoView({ block: "end" });
  }

  function render() {
    for (const row of document.querySelectorAll("#log .row")) row.remove();
    const turns = transcript();
    $("empty").hidden = turns.length > 0;
    for (const turn of turns) bubble(turn.who === "me" ? "me" : turn.who === "note" ? "note" : "bot", turn.text);
  }

  function showBot() {
    const entry = state.bots.find((b) => b.name === state.bot) || { name: state.bot, default_strategy: "" };
    const name = entry.display || entry.name;
    $("title").textContent = name;
    $("subtitle").textContent = `a bot that talks like ${name}, from their own chats`;
    $("avatar").textContent = (name.trim()[0] || "?").toUpperCase();
    document.title = `${name} · talklike`;
    const select = $("strategy");
    select.replaceChildren();
    const byDefault = document.createElement("option");
    byDefault.value = "";
    byDefault.textContent = `default (${entry.default_strategy})`;
    select.appendChild(byDefault);
    for (const name of state.strategies) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.appendChild(option);
    }
    select.value = store.getItem(key(`strategy.${state.bot}`)) || "";
    render();
  }

  async function load() {
    const data = await withToken(() => api("/api/bots"));
    state.bots = data.bots;
    state.strategies = data.strategies;
    const chosen = store.getItem(key("bot"));
    state.bot = state.bots.some((b) => b.name === chosen) ? chosen : data.default;
    const select = $("bot");
    select.replaceChildren();
    for (const b of state.bots) {
      const option = document.createElement("option");
      option.value = b.name;
      option.textContent = b.display || b.name;
      select.appendChild(option);
    }
    select.value = state.bot;
    $("bot-control").hidden = state.bots.length < 2;
    showBot();
  }

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function send(text) {
    if (state.busy || !text.trim()) return;
    state.busy = true;
    $("send").disabled = true;
    const bot = state.bot;
    bubble("me", text);
    remember("me", text);
    typing(true);
    try {
      const body = { message: text, conversation_id: conversationId(), bot };
      const strategy = $("strategy").value;
      if (strategy) body.strategy = strategy;
      const data = await withToken(() => api("/api/reply", body));
      for (let i = 0; i < data.replies.length; i += 1) {
        if (i) {
          typing(true);
          await pause(BURST_GAP_MS);
        }
        typing(false);
        bubble("bot", data.replies[i]);
        remember("bot", data.replies[i]);
      }
    } catch (error) {
      typing(false);
      bubble("note", error.message);
      remember("note", error.message);
    } finally {
      typing(false);
      state.busy = false;
      $("send").disabled = false;
      $("message").focus();
    }
  }

  function grow() {
    const box = $("message");
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
    box.style.overflowY = box.scrollHeight > 160 ? "auto" : "hidden";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("message").value;
      $("message").value = "";
      grow();
      send(text);
    });
    $("message").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("message").addEventListener("input", grow);
    $("strategy").addEventListener("change", () => {
      store.setItem(key(`strategy.${state.bot}`), $("strategy").value);
    });
    $("bot").addEventListener("change", () => {
      state.bot = $("bot").value;
      store.setItem(key("bot"), state.bot);
      showBot();
    });
    $("reset").addEventListener("click", async () => {
      const old = store.getItem(key(`conversation.${state.bot}`));
      store.removeItem(key(`conversation.${state.bot}`));
      store.removeItem(key(`transcript.${state.bot}`));
      render();
      if (old) {
        try {
          await withToken(() => api("/api/reset", { conversation_id: old, bot: state.bot }));
        } catch (error) {
          bubble("note", error.message);
        }
      }
      $("message").focus();
    });
    load()
      .then(() => $("message").focus())
      .catch((error) => bubble("note", error.message));
  });
})();
