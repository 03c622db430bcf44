"""DINA Studio: explore what a V1 recording encodes. Run with ``streamlit run app.py``.

Pages are declared here (``st.navigation``); each lives in ``pages/`` and draws figures from
``dina_core`` results through the helpers in ``dina_app``. When Streamlit runs a page file without this
script (its legacy ``pages/`` mode: a link as a fresh server's first request), the page's header runs this
script first (``chrome.page_header``).
"""

import pandas  # noqa: F401  imported before the first element: a rerun that interrupts st.dataframe's
import pyarrow  # noqa: F401  lazy first import of these leaves a half-initialised module behind
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException  # st.rerun's; no public name

from dina_app import chrome, deck_controls, links, warmup
from dina_core.errors import DinaError

# A local icon: a material or emoji page icon makes the browser fetch it from a font CDN.
st.set_page_config(page_title="DINA Studio", page_icon="assets/icon.png", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/retrieval.py", title="Retrieval", icon=":material/image_search:"),
    st.Page("pages/feature_maps.py", title="Feature maps", icon=":material/layers:"),
    st.Page("pages/attributions.py", title="Attributions", icon=":material/center_focus_strong:"),
    st.Page("pages/probes.py", title="Structure probes", icon=":material/blur_on:"),
    st.Page("pages/neurons.py", title="Neurons", icon=":material/hub:"),
    st.Page("pages/model_validation.py", title="Model validation", icon=":material/fact_check:"),
    st.Page("pages/across_animals.py", title="Across animals", icon=":material/compare_arrows:"),
    st.Page("pages/report.py", title="Report", icon=":material/description:"),
    st.Page("pages/deck.py", title="Deck", icon=":material/slideshow:"),
]
PAGE_FILES = {p.title: p.url_path or "data" for p in PAGES}  # sidebar title -> pages/ file stem (views name it)

page = st.navigation(PAGES)
links.begin()
with chrome.guard():
    links.restore_context()  # a link's recording and run, before the sidebar names them
st.sidebar.markdown("### DINA Studio")
chrome.presentation_toggle()
in_use = chrome.sidebar_status()
view_tools = st.sidebar.container()  # "Copy link" and "Pin this view": filled once the page has drawn its view
with chrome.guard():
    deck_controls.presenter_bar()  # while a deck is presented: its slide counter, caption and clicker keys
notices = st.container()  # what a link could not restore, above the page
rerun = False
try:
    with chrome.running_page():
        page.run()
except DinaError as exc:  # user input problems (a file, a field): the message, never a traceback
    st.error(str(exc), icon=":material/error:")
except RerunException:  # st.rerun, st.switch_page, a widget moved meanwhile: the next run shows the view
    rerun = True  # (its URL is the old one until then: publishing now would make the next run restore it)
    raise
finally:  # after the page (even one that stopped): the warm-up never competes with its first draw
    if not rerun:
        with chrome.guard():
            deck_controls.view_tools(view_tools, PAGE_FILES[page.title], links.publish())
        for text in links.notices():
            notices.warning(text, icon=":material/link_off:")
    if in_use:
        warmup.warm_shipped_run(*in_use)
