"""What every page gets for decks: the sidebar's "Copy link" and "Pin this view", and the presenter's bar.

"Pin this view" pins what the page showed in its last run: its URL parameters (``links``, published after the
page ran) and its figures (``chrome.show``), which a button's callback still sees before the next run starts.
While a deck is presented (``keys.SHOWING``) the bar above the page shows the slide counter and caption with
Previous/Next buttons, and the keys a presenter's clicker sends (arrows, Page Up/Down, space) press them.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dina_core import __version__
from dina_core.errors import DinaError

from . import active_run, decks, keys, links, prefetch, state

NEW_DECK = "+ new deck"
VIEW = "links.view"  # (page stem, params) of the last run's view: what a pin callback pins
PIN_FLASH = "deck.pin_flash"  # (ok, message) of the last pin, shown once in the sidebar
# A clicker's keys press the bar's buttons; keys typed into a field or moving a focused slider are left alone.
CLICKER_JS = """<script>
if (!window.dinaDeckKeys) {
  window.dinaDeckKeys = true;
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t && t.closest && t.closest("input, textarea, select, [contenteditable=true], [role=slider], [role=listbox]"))
      return;
    const next = ["ArrowRight", "ArrowDown", "PageDown", " "].includes(e.key);
    if (!next && !["ArrowLeft", "ArrowUp", "PageUp"].includes(e.key)) return;
    const button = document.querySelector(next ? ".st-key-deck-next button" : ".st-key-deck-prev button");
    if (!button) return;
    e.preventDefault();
    if (t && t.blur) t.blur();
    if (!button.disabled) button.click();
  }, true);
}
</script>"""


def deck_folder(data_key: state.FileKey) -> Path:
    """Where the decks of a recording live."""
    return decks.folder(state.runs_dir(), active_run.recording_id(data_key))


def provenance(data_key: state.FileKey, params: dict[str, str]) -> dict:
    """What a pinned view was computed from: the recording (name, fingerprint) and the run."""
    found = active_run.active(data_key)
    return {"recording": str(state.summary(data_key).get("name") or Path(data_key[0]).name),
            "fingerprint": state.fingerprint(data_key), "run": params.get(links.RUN, "none"),
            "run_folder": found[0]["path"] if found else "", "dina": __version__}


def _pin(deck_choice: str) -> None:
    """The "Pin" button's callback: append the last run's view to the chosen (or a new) deck."""
    page, params = st.session_state.get(VIEW, ("data", {}))
    try:
        name = st.session_state.get("deck.pin_new", "") if deck_choice == NEW_DECK else deck_choice
        data_key = state.active_data_key()
        params = {k: v for k, v in params.items() if k != keys.PRESENT}  # presenting forces presentation mode
        view = decks.new_view(page, params, st.session_state.get("deck.pin_caption", ""),
                              provenance(data_key, params), st.session_state.get(keys.SHOWN, []))
        n = decks.append(decks.path(deck_folder(data_key), name), view)
        st.session_state[PIN_FLASH] = (True, f"Pinned to “{decks.checked_name(name)}”: {n} view{'s' * (n != 1)}.")
        st.session_state["deck.pin_caption"] = ""
    except DinaError as exc:
        st.session_state[PIN_FLASH] = (False, str(exc))


def view_tools(holder, page: str, params: dict[str, str]) -> None:
    """Fill ``holder`` (a sidebar container made before the page ran) with "Copy link" and "Pin this view"."""
    st.session_state[VIEW] = (page, params)
    with holder:
        with st.popover("Copy link", icon=":material/link:", width="stretch"):
            st.caption("This exact view (recording, model, page and its choices): opening it restores it.")
            st.code(links.url(params, page), language=None, wrap_lines=True)
        if st.session_state.get(keys.SHOWING):
            return
        with st.popover("Pin this view", icon=":material/push_pin:", width="stretch"):
            existing = decks.names(deck_folder(state.active_data_key()))
            choice = st.selectbox("Deck", [*existing, NEW_DECK], key="deck.pin_deck")
            if choice == NEW_DECK:
                st.text_input("New deck's name", value="lab meeting", key="deck.pin_new", max_chars=60)
            st.text_area("Caption (optional)", key="deck.pin_caption", max_chars=decks.MAX_CAPTION, height=80)
            st.button("Pin", type="primary", icon=":material/push_pin:", key="deck.pin", on_click=_pin,
                      args=(choice,), help="Adds this view, as on screen now, at the end of the deck")
        if flash := st.session_state.pop(PIN_FLASH, None):
            (st.success if flash[0] else st.error)(flash[1])


def start(deck_path: Path, index: int = 0) -> None:
    """The "Present" button's callback: present the deck in ``deck_path`` from view ``index`` in presentation mode
    (set before the sidebar's toggle is drawn); the page then calls ``show_slide``. The deck stays the one
    presented when a view opens another recording."""
    st.session_state[keys.SHOWING] = {"deck": str(deck_path), "index": index}
    st.session_state[keys.PRESENT] = True


def show_slide() -> None:
    """Switch to the page of the view being presented, with its settings."""
    showing = st.session_state[keys.SHOWING]
    _go(Path(showing["deck"]), showing["index"])


def open_view(view: dict) -> None:
    """Switch to a pinned view: its page, with every one of its settings applied."""
    links.forget_applied()
    st.switch_page(f"pages/{view['page']}.py", query_params=view["params"])


def _go(deck_path: Path, index: int) -> None:
    open_view(decks.load(Path(deck_path))["views"][index])


def _end(message: str | None = None) -> None:
    st.session_state.pop(keys.SHOWING, None)
    if message:
        st.session_state[PIN_FLASH] = (False, message)
    st.switch_page("pages/deck.py")


def presenter_bar() -> None:
    """While a deck is presented: slide counter, caption, Previous/Next/End and the clicker keys (above the page)."""
    showing = st.session_state.get(keys.SHOWING)
    if not showing:
        return
    try:
        views = decks.load(Path(showing["deck"]))["views"]
    except DinaError as exc:
        _end(f"The deck could not be presented: {exc}")
        return
    if not views:
        _end("The deck has no views to present.")
    index = min(max(int(showing["index"]), 0), len(views) - 1)
    prev_col, next_col, text_col, end_col = st.columns([1.5, 1.5, 6, 1.3], vertical_alignment="center")
    back = prev_col.button("Back", icon=":material/arrow_back:", key="deck-prev", disabled=index == 0,
                           help="The previous slide (←, Page Up)", width="stretch")
    forward = next_col.button("Next", icon=":material/arrow_forward:", key="deck-next", width="stretch",
                              disabled=index == len(views) - 1, help="The next slide (→, Page Down, space)")
    caption = views[index]["caption"]
    text_col.markdown(f"**Slide {index + 1} / {len(views)}**" + (f" · {escape_markdown(caption)}" if caption else ""))
    progress = prefetch.start(Path(showing["deck"]), views, state.active_data_key())  # once per deck version
    if not progress.ended:  # said at each slide; never a rerun of its own in front of the audience
        text_col.caption(progress.describe())
    stop = end_col.button("End", icon=":material/close:", key="deck-end", width="stretch",
                          help="Back to the Deck page")
    st.html(CLICKER_JS, unsafe_allow_javascript=True)
    if stop:
        _end()
    if back or forward:
        showing["index"] = index + (1 if forward else -1)
        _go(showing["deck"], showing["index"])


def escape_markdown(text: str) -> str:
    """Plain text shown through Markdown as typed: no emphasis, link, heading or HTML from a caption."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|~:$&" else c for c in text)
