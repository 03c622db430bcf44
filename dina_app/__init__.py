"""DINA Studio: the Streamlit app's helpers (the pages live in ``pages/``, the app in ``app.py``).

* ``state``    session-state keys, folders, and the cached loaders every page shares
* ``widgets``  Streamlit pieces several pages use (sidebar, guards, job progress)
* ``jobs``     background training/benchmark workers, polled by the pages
* ``analysis`` small glue between ``dina_core`` results and figures (no Streamlit)
* ``figures``  plotly figure builders (no Streamlit)
* ``report``   self-contained HTML report and PNG export (no Streamlit)
"""
