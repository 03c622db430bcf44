"""DINA Studio: the Streamlit app's helpers (the pages live in ``pages/``, the app in ``app.py``).

* ``keys``      every session-state key and job key the app reads back (no Streamlit)
* ``state``     folders, the session, the active recording and the cached recording loaders every page shares
* ``saved_runs``  the cached run loaders every page shares, the run list, deleting a run
* ``active_run`` which run every page uses: a deliberate, remembered choice, or a default that beats chance
* ``chrome``    what frames every page: CSS and presentation mode, sidebar, page header, figures, error guard
* ``run_guard`` ``require_run``: the active model, or an explanation (and, lacking the shipped one, the demo's default model) and a stop
* ``forms``     widgets for a config dataclass's fields, with each field's help
* ``job_panel`` the live progress panel of a background job
* ``jobs``      background training/benchmark/import workers, polled by the pages (no Streamlit)
* ``cached``    cached analyses of the active run on the active recording
* ``warmup``    fills those caches for the shipped run on the demo in a background thread, once per server
* ``view_needs``  per page, the cached computations a view of it needs (what warm-up and a deck's prefetch fill)
* ``prefetch``  computes what an opened deck's views need in a background thread, with progress
* ``analysis``  small glue between ``dina_core`` results and figures (no Streamlit)
* ``figures``   plotly figure builders: curves, bars, images (no Streamlit; legends below the plot)
* ``map_figures``  maps over stimuli, channel maps, the raster, neuron-pair matrices (one colour bar each)
* ``result_figures``  pruning curves, the benchmark's models side by side, probe small multiples
* ``labels``    words for the core's keys (levels, models, rankings, matrices), applied when drawing
* ``report``    self-contained HTML report and PNG export (no Streamlit); ``report_validation`` its model-validation section
* ``model_validation_panel``, ``model_validation_results``  the Model validation page: networks, layers and the job; the
  profile, table and alignment map of a finished validation
* ``across_animals``  the Across animals page: saved runs of several recordings, their consistency matrix and its control
* ``import_wizard``, ``import_picker``, ``sources``, ``trace_figures``  the Data page's import of raw recordings
* ``links``     every view has a link: recording, run and the page's choices in the URL, restored or named as not
* ``decks``, ``deck_export``  decks of pinned views as JSON in the runs folder; their HTML and PNG exports (no Streamlit)
* ``deck_controls``, ``deck_panel``  "Copy link", "Pin this view" and the presenter's bar; the Deck page
* ``browser``   how to drive the app in headless Chromium with Playwright (browser tests, bench)
"""
