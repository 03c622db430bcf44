"""DINA Studio: explore what a V1 recording encodes. Run with ``streamlit run app.py``.

Pages are declared here (``st.navigation``); each lives in ``pages/`` and draws figures from
``dina_core`` results through the helpers in ``dina_app``. Streamlit (1.67) treats a ``pages/`` folder
beside the entrypoint as its legacy multipage mode until some session has run this script, so the very
first request of a fresh server should be the root URL (a bookmarked ``/train`` as a server's first
request opens that page without this script's sidebar; any visit to the root fixes it for good).
"""

import pandas  # noqa: F401  imported before the first element: a rerun that interrupts st.dataframe's
import pyarrow  # noqa: F401  lazy first import of these leaves a half-initialised module behind
import streamlit as st

from dina_app import chrome, warmup
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
]

page = st.navigation(PAGES)
st.sidebar.markdown("### DINA Studio")
chrome.presentation_toggle()
in_use = chrome.sidebar_status()
try:
    page.run()
except DinaError as exc:  # user input problems (a file, a field): the message, never a traceback
    st.error(str(exc), icon=":material/error:")
finally:  # after the page (even one that stopped): the warm-up never competes with its first draw
    if in_use:
        warmup.warm_shipped_run(*in_use)
