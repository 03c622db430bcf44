"""Deck: which views will I show at the lab meeting, and in which order?"""

from dina_app import deck_panel, state
from dina_app.chrome import page_header

page_header("Deck", "Which views will I show at the lab meeting, and in which order?")
deck_panel.panel(state.active_data_key())
