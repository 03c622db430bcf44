"""DINA: Dual-Tower Image-Neural Alignment for V1 population recordings.

The core never imports streamlit; the app in ``app.py``/``pages/`` is a thin layer over it.
"""

__version__ = "0.1.0"
