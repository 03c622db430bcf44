"""Model validation: which layer of which vision network aligns best with this recording?"""

import streamlit as st

from dina_app import model_validation_panel as P
from dina_app import model_validation_results as R
from dina_app import state
from dina_app.chrome import page_header

page_header("Model validation", "Which layer of which vision network aligns best with these neurons, beside DINA, "
                                "the pixels and the noise ceiling?")
data_key = state.active_data_key()
if state.presenting():  # results only; a validation started before keeps reporting its progress
    P.job_status()
else:
    st.subheader("New validation")
    st.caption("Each chosen layer's maps (pooled, reduced to their principal components on train images) become the "
               "fixed image side of a DINA level; a neural tower learns to align the responses with them, and the "
               "test images score it. The same architecture with random weights is the control of every network.")
    P.builder(data_key)
st.subheader("Results")
R.results_panel(data_key)
