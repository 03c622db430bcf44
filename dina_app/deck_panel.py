"""The Deck page: a recording's decks; reorder, caption, remove and open their views; rename, delete, present
and export a deck. Every change goes to the file at once (``decks``, atomically); a deck file that cannot be
read is reported with its problem and never written over."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dina_core.errors import DinaError

from . import deck_controls, deck_export, decks, links, prefetch, report, state

FLASH = "deck.flash"  # (ok, message) of the last change, shown once
EXPORTS = "deck.exports"  # (deck path, its mtime_ns, html, png zip or None, why no PNGs): the last exports


def _flash(ok: bool, message: str) -> None:
    st.session_state[FLASH] = (ok, message)


def _forget_captions() -> None:
    """Drop the caption fields' state: after a reorder they would show another view's caption."""
    for name in [k for k in st.session_state if str(k).startswith("deck.cap.")]:
        del st.session_state[name]


def _change(deck_path: Path, edit) -> None:
    """Apply ``edit(views) -> views`` to the deck file (a callback); a deck that cannot be read stays as it is."""
    try:
        deck = decks.load(deck_path)
        deck["views"] = edit(deck["views"])
        decks.save(deck_path, deck)
    except DinaError as exc:
        _flash(False, str(exc))
    _forget_captions()


def _set_caption(deck_path: Path, index: int) -> None:
    text = decks.clean_caption(st.session_state.get(f"deck.cap.{index}", ""))
    _change(deck_path, lambda views: [dict(v, caption=text) if i == index else v for i, v in enumerate(views)])


def _rename(deck_path: Path) -> None:
    try:
        target = decks.rename(deck_path, st.session_state.get("deck.rename", ""))
        st.session_state["deck.name"] = target.stem
        _flash(True, f"Renamed to “{target.stem}”.")
    except DinaError as exc:
        _flash(False, str(exc))


def _delete(deck_path: Path) -> None:
    deck_path.unlink(missing_ok=True)
    st.session_state.pop("deck.name", None)
    _flash(True, f"Deleted the deck “{deck_path.stem}”.")


def panel(data_key: state.FileKey) -> None:
    folder = deck_controls.deck_folder(data_key)
    if flash := st.session_state.pop(FLASH, None):
        (st.success if flash[0] else st.error)(flash[1])
    names = decks.names(folder)
    if not names:
        st.info("No deck for this recording yet. On any page, open **Pin this view** in the sidebar to add what it "
                "shows (with a caption) to a new deck.", icon=":material/push_pin:")
        return
    name = st.selectbox("Deck", names, key=links.key("deck.name", options=names))
    deck_path = decks.path(folder, name)
    try:
        deck = decks.load(deck_path)
    except DinaError as exc:
        st.error(str(exc), icon=":material/error:")
        st.caption("DINA does not write over a deck it cannot read: repair the file, or move it out of "
                   f"{folder}, and open this page again.")
        return
    views = deck["views"]
    _preparing(prefetch.start(deck_path, views, data_key))
    _deck_actions(deck_path, deck)
    if not views:
        st.caption("This deck is empty: pin views from any page.")
    for i, view in enumerate(views):
        _view_row(deck_path, i, view, len(views))


def _preparing(progress: prefetch.Progress) -> None:
    """What the views need is computed in the background once the deck is open: its progress, live until done."""
    if progress.ended:
        st.caption(progress.describe())
        return

    @st.fragment(run_every=1.0)
    def live() -> None:
        if progress.ended:
            st.rerun()  # the whole page once: the static line above, no more polling
        st.progress(progress.ready / max(progress.views, 1), text=progress.describe())
    live()


def _deck_actions(deck_path: Path, deck: dict) -> None:
    present, rename, delete, export = st.columns(4, vertical_alignment="bottom")
    if present.button("Present", type="primary", icon=":material/slideshow:", key="deck.present",
                      disabled=not deck["views"], help="One view at a time in presentation mode; next/previous by "
                      "the buttons, the arrow keys, Page Up/Page Down or space (a presenter's clicker)",
                      on_click=deck_controls.start, args=(deck_path,)):
        deck_controls.show_slide()
    with rename.popover("Rename", icon=":material/edit:", width="stretch"):
        st.text_input("New name", value=deck_path.stem, key="deck.rename", max_chars=60)
        st.button("Rename", key="deck.rename_go", on_click=_rename, args=(deck_path,))
    with delete.popover("Delete", icon=":material/delete:", width="stretch"):
        st.caption(f"Delete “{deck_path.stem}” and its {len(deck['views'])} views? The pages themselves stay.")
        st.button("Delete the deck", key="deck.delete_go", on_click=_delete, args=(deck_path,))
    if export.button("Prepare the exports", icon=":material/download:", key="deck.export",
                     disabled=not deck["views"], help="The deck as one offline HTML report, and a PNG per figure"):
        _prepare_exports(deck_path, deck)
    _export_downloads(deck_path)


def _prepare_exports(deck_path: Path, deck: dict) -> None:
    try:
        with st.spinner("Writing the HTML report…"):
            page = deck_export.deck_html(deck)
        pngs, problem = None, report.png_export_problem()
        if problem is None:
            with st.spinner("Rendering the PNGs with Chromium…"):
                pngs = deck_export.deck_pngs(deck)
        st.session_state[EXPORTS] = (str(deck_path), deck_path.stat().st_mtime_ns, page, pngs, problem)
    except DinaError as exc:
        st.error(str(exc), icon=":material/error:")


def _export_downloads(deck_path: Path) -> None:
    prepared = st.session_state.get(EXPORTS)
    if not prepared or prepared[0] != str(deck_path) or prepared[1] != deck_path.stat().st_mtime_ns:
        return  # none yet, or the deck changed since: prepare again
    _, _, page, pngs, problem = prepared
    left, right = st.columns(2)
    left.download_button("Download the HTML report", page, file_name=f"dina-deck-{deck_path.stem}.html",
                         mime="text/html", icon=":material/description:", key="deck.html", on_click="ignore")
    if pngs is not None:
        right.download_button("Download the PNGs (zip)", pngs, file_name=f"dina-deck-{deck_path.stem}-png.zip",
                              mime="application/zip", icon=":material/image:", key="deck.png", on_click="ignore")
    else:
        right.caption(problem)


def _view_row(deck_path: Path, i: int, view: dict, n: int) -> None:
    with st.container(border=True):
        text, buttons = st.columns([5, 2], vertical_alignment="center")
        with text:
            prov = view.get("provenance") or {}
            run = deck_controls.escape_markdown(str(prov.get("run", "–")))
            st.markdown(f"**{i + 1}. {deck_controls.escape_markdown(view['title'])}** · "
                        f"{len(view.get('figures', []))} figure(s) · run {run}")
            st.text_input("Caption", value=view["caption"], key=f"deck.cap.{i}", max_chars=decks.MAX_CAPTION,
                          on_change=_set_caption, args=(deck_path, i), label_visibility="collapsed",
                          placeholder="Caption (shown under the slide counter)")
            settings = ", ".join(f"{k} = {v}" for k, v in view["params"].items() if k not in (links.RECORDING,
                                                                                             links.RUN))
            st.caption(deck_controls.escape_markdown(f"Pinned {view.get('pinned', '–')} · {settings or 'defaults'}"))
        up, down, remove, show = buttons.columns(4)
        up.button("", icon=":material/arrow_upward:", key=f"deck.up.{i}", disabled=i == 0, help="Move up",
                  on_click=_change, args=(deck_path, lambda views: decks.moved(views, i, -1)))
        down.button("", icon=":material/arrow_downward:", key=f"deck.down.{i}", disabled=i == n - 1,
                    help="Move down", on_click=_change, args=(deck_path, lambda views: decks.moved(views, i, 1)))
        remove.button("", icon=":material/delete:", key=f"deck.remove.{i}", help="Remove from the deck",
                      on_click=_change, args=(deck_path, lambda views: views[:i] + views[i + 1:]))
        if show.button("", icon=":material/open_in_new:", key=f"deck.open.{i}", help="Open this view"):
            deck_controls.open_view(view)
