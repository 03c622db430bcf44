"""Is this the recording the run was trained on? The one check behind every score of a run.

A run records the identity of its training recording (``data_fingerprint``, and ``data_provenance``
for simulator output; see :mod:`dina_core.data.fingerprint`). Scoring it on anything else (another
session, a copy with relabelled tiers, a re-import with other parameters) gives a number that is not
the model's test score: a relabelled copy whose test images were trained on scores 0.68 instead of
0.04. ``dina evaluate``, ``dina analyze`` and DINA Studio therefore refuse other data unless the
user explicitly allows it, and then say so beside the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..data.fingerprint import recording_matches
from ..errors import CheckpointError


class OtherDataError(CheckpointError):
    """The data to score is not the recording the run was trained on; ``check`` says how they differ."""

    def __init__(self, message: str, check: "DataCheck"):
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class DataCheck:
    """The outcome of :func:`check_same_data`, as written into scores' JSON under ``data_check``."""

    run_fingerprint: str | None  # content fingerprint the run recorded (None: the run records none)
    data_fingerprint: str  # content fingerprint of the data being scored
    same_data: bool  # the run was trained on exactly this recording (content or simulator provenance)
    allowed: bool  # scoring goes ahead: same data, or other data the user explicitly allowed
    matched_by: str | None  # 'content', 'provenance' (simulator output made the same way) or None
    run_provenance: str | None = None
    data_provenance: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line on what was compared: both fingerprints (and provenances when there are any)."""
        run = self.run_fingerprint or "none recorded"
        text = f"the run's data fingerprint {run}, this data's {self.data_fingerprint}"
        if self.run_provenance or self.data_provenance:
            text += f"; provenance {self.run_provenance or 'none'} vs {self.data_provenance or 'none'}"
        return text

    def warning(self) -> str | None:
        """The line to print beside scores of other data (None for the run's own recording)."""
        if self.same_data:
            return None
        return (f"warning: scored on OTHER data than the run was trained on ({self.describe()}); "
                f"these are not the model's test scores")


def check_same_data(run_metadata: dict, identity: dict[str, str], *, source: str = "data",
                    allow_other: bool = False, hint: str = "") -> DataCheck:
    """Compare a run's recorded recording with the one about to be scored.

    Args:
        run_metadata: ``Run.metadata`` (or ``run.json``'s ``metadata``).
        identity: :func:`dina_core.data.fingerprint.recording_identity` of the data to score.
        source: how to name the data in the message (its file).
        allow_other: go ahead on other data (the check then records ``same_data=False, allowed=True``).
        hint: appended to the refusal: how this caller's user can proceed anyway or choose another run.

    Raises:
        OtherDataError: the data is not the run's recording and ``allow_other`` is false.
    """
    run_metadata = run_metadata if isinstance(run_metadata, dict) else {}
    same = recording_matches(run_metadata, identity)
    content = same and run_metadata.get("data_fingerprint") == identity.get("data_fingerprint")
    check = DataCheck(run_fingerprint=run_metadata.get("data_fingerprint"),
                      data_fingerprint=identity["data_fingerprint"], same_data=same, allowed=same or allow_other,
                      matched_by=("content" if content else "provenance") if same else None,
                      run_provenance=run_metadata.get("data_provenance"),
                      data_provenance=identity.get("data_provenance"))
    if not check.allowed:
        raise OtherDataError(f"{source}: is not the recording this run was trained on ({check.describe()}); "
                             f"its scores there would not be the model's test scores"
                             + (f"; {hint}" if hint else ""), check)
    return check
