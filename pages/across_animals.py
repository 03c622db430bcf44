"""Across animals: do different animals' models encode the same image features?"""

import streamlit as st

from dina_app import across_animals as A
from dina_app import agreement_panel, fewshot_panel, state
from dina_app.chrome import page_header

page_header("Across animals", "Do different animals encode the same image features?")
st.caption(A.EXPLANATION)
if state.presenting():  # results only; a computation started before keeps reporting its progress
    A.job_status()
else:
    st.subheader("New comparison")
    A.builder()
st.subheader("Results")
A.results_panel()
st.subheader("Where the animals agree")
agreement_panel.panel()
st.subheader("How many trials the next animal needs")
fewshot_panel.panel()
