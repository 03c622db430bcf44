"""Every key DINA Studio reads back, in one place: ``st.session_state`` keys and background job keys.

A key written in one place and read in another breaks silently when one side is renamed, so both
sides use these names. App-wide session keys start with ``dina.``, a page's own with the page
(``data.``, ``train.``, ``report.``); a widget key is listed here when code other than its widget
reads it (a widget key only its own widget reads stays beside the widget). Job keys name a
``jobs`` registry entry: per browser session (training, import) or per recording (shared by every
session). No Streamlit here: tests import it to read the app's state.
"""

# -- every page (``state``, ``chrome``) -----------------------------------------------------------
DATA = "dina.data_path"  # str path of the active recording; absent: the built-in demo
RUN = "dina.run_path"  # str run folder chosen in this session; absent: the remembered choice or the default (active_run)
PRESENT = "dina.presentation"  # bool: presentation mode (large fonts, fewer controls); the sidebar toggle's key
SESSION = "dina.session_id"  # str: this browser session's id (keys its training and import jobs)

# -- links and decks (``links``, ``deck_controls``) -------------------------------------------------
LINK_APPLIED = "links.applied"  # {param: URL value} last restored or published: a value differing from it is new
LINK_KEYS = "links.keys"  # {param: None}: the view's widget keys registered by this script run, in order
LINK_NOTICES = "links.notices"  # list[str]: what this run could not restore from the URL, one line each
SHOWN = "links.shown"  # list[(plotly figure, caption)]: the figures this script run drew (``chrome.show``)
SHOWING = "deck.showing"  # {'deck': deck file path, 'index': int}: the deck being presented and its current view

# -- Data page and its import wizard -------------------------------------------------------------
DATA_FLASH = "data.flash"  # str: message of the last recording change, shown once on the next run
DATA_SEED = "data.seed"  # int: which random draw of stimuli the gallery shows ("Show other images")
IMPORT_SIGNAL = "import.signal"  # widget: dff or events, read before the control is drawn (it picks the source)
IMPORT_OPENED = "import.opened"  # str 'path@start time' of the last finished import this session has opened

# -- Train page ------------------------------------------------------------------------------------
TRAIN_NAME = "train.name"  # widget: the run name, preset to a fresh timestamped name until a run starts
TRAIN_RENEW = "train.renew"  # bool: a run just started, so the next run name is fresh
TRAIN_FORM = "train.t"  # prefix of the training form's widgets: ``train.t.<TrainConfig field>``
TUNED = "train.tuned"  # {'model': {...}, 'train': {...}}: a tuning's chosen config, prefilling the form


def model_form(kind: str) -> str:
    """Prefix of the model form's widgets for a model ``kind`` ('dina', 'linear'): ``train.<kind>.<field>``."""
    return f"train.{kind}"


# -- Report page -----------------------------------------------------------------------------------
REPORT_HTML = "report.html"  # str: the last built self-contained HTML report
REPORT_TITLES = "report.titles"  # list[str]: its figure titles, in order
REPORT_FIGURES = "report.figures"  # dict title -> plotly figure, for the PNG export
REPORT_PNG = "report.png_bytes"  # (title, PNG bytes) of the last rendered figure


# -- background jobs (``jobs`` registry) ------------------------------------------------------------
def training_job(session_id: str) -> str:
    """The training a browser session started on the Train page."""
    return f"train:{session_id}"


def import_job(session_id: str) -> str:
    """The raw-recording import a browser session started in the Data page's wizard."""
    return f"import:{session_id}"


def tune_job(session_id: str) -> str:
    """The tuning (``dina tune``) a browser session started on the Train page."""
    return f"tune:{session_id}"


def demo_job(fingerprint: str) -> str:
    """The default demo model trained at launch for a recording (shared: every session waits for the same one)."""
    return f"demo:{fingerprint}"


def baselines_job(fingerprint: str) -> str:
    """The fast baselines (linear + ridge) of a recording (shared by every session)."""
    return f"baselines:{fingerprint}"
