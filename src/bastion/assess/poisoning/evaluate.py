"""Screening a training set for label errors, conflicting duplicates, outliers and backdoors.

The screens run on a seeded subset of at most ``samples`` rows. The poison set is the union of
the confirmed signals — combined label issues, conflicting duplicates and samples of backdoored
classes that models trained without them reassign — and the estimated poisoning rate is its
size over the rows screened. Class-conditional outliers are reported for review but are not
counted as poison. Each method's own flags are kept, so a benchmark can score them side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bastion.assess.config import PoisoningSpec
from bastion.assess.data import Dataset
from bastion.assess.errors import AssessError
from bastion.assess.poisoning.backdoor import BackdoorScreen, screen_backdoors
from bastion.assess.poisoning.duplicates import DuplicateScreen, screen_duplicates
from bastion.assess.poisoning.labels import LabelScreen, screen_labels
from bastion.assess.poisoning.neighbors import default_trim, prepare, trimmed_neighbors
from bastion.assess.poisoning.network import representations
from bastion.assess.progress import ProgressSink, silent
from bastion.assess.targets.interface import NDArray, Target

OUTLIER_SHARE = 0.3


@dataclass(frozen=True, eq=False)
class PoisoningReport:
    """Every screen's flags over the screened rows (positions), plus the combined verdict."""

    source: str
    rows: NDArray
    labels: NDArray
    methods: dict[str, NDArray]
    poison: NDArray
    suspicion: NDArray
    label_screen: LabelScreen | None
    duplicates: DuplicateScreen | None
    backdoor: BackdoorScreen | None
    outliers: NDArray
    representation: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def screened(self) -> int:
        """Rows screened."""
        return len(self.rows)

    @property
    def estimated_rate(self) -> float:
        """Confirmed suspicious rows over rows screened."""
        return float(self.poison.mean()) if len(self.poison) else 0.0

    def ids(self, mask: NDArray) -> list[int]:
        """Original row ids of a mask over the screened rows."""
        return [int(v) for v in self.rows[mask]]

    def most_suspicious(self, count: int) -> list[int]:
        """Positions of the highest suspicion scores among flagged rows, most suspicious first."""
        flagged = np.flatnonzero(self.poison | self.outliers)
        order = flagged[np.argsort(-self.suspicion[flagged], kind="mergesort")]
        return [int(i) for i in order[:count]]


def _trimmed_disagreement(x: NDArray, y: NDArray, k: int) -> tuple[NDArray, NDArray]:
    """Share of trimmed-distance neighbours with another label, and a continuous score.

    The score adds half the log-ratio of the distances to the nearest same-label and
    other-label rows, so rows with the same neighbour vote are still ordered.
    """
    index, d_own, d_other = trimmed_neighbors(x, y, k, default_trim(x.shape[1]))
    share_other = 1.0 - (y[index] == y[:, None]).mean(axis=1)
    ratio = np.log(np.maximum(d_own, 1e-12) / np.maximum(d_other, 1e-12))
    return share_other, share_other + 0.5 * ratio


def screen_data(
    data: Dataset,
    spec: PoisoningSpec,
    *,
    image: bool,
    target: Target | None = None,
    seed: int = 0,
    progress: ProgressSink = silent,
) -> PoisoningReport:
    """Run the configured screens on the training data."""
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    subset = data
    if len(data) > spec.samples:
        subset = data.subset(np.sort(rng.permutation(len(data))[: spec.samples]))
        notes.append(f"screened a seeded sample of {spec.samples} of {len(data)} rows")
    if len(subset) < 20:
        raise AssessError(f"{data.source}: {len(subset)} rows are too few to screen (need 20)")
    x = prepare(subset.x, image)
    y = subset.y
    n_classes = int(y.max()) + 1
    methods: dict[str, NDArray] = {}
    label_screen = None
    if "cleanlab" in spec.methods or "knn" in spec.methods:
        progress(f"{data.source}: label screens (out-of-fold models, cleanlab, kNN)")
        label_screen = screen_labels(
            x,
            y,
            n_classes,
            folds=spec.folds,
            neighbors=spec.neighbors,
            seed=seed,
            use_cleanlab="cleanlab" in spec.methods,
        )
        if "cleanlab" in spec.methods:
            methods["cleanlab"] = label_screen.cleanlab
        if "knn" in spec.methods:
            methods["knn"] = label_screen.knn
        methods["label-combined"] = label_screen.combined
    duplicates = None
    if "duplicates" in spec.methods:
        progress(f"{data.source}: duplicates with conflicting labels")
        duplicates = screen_duplicates(subset.x, y)
        methods["duplicates"] = duplicates.flags
    need_trimmed = {"outliers", "reclassification"} & set(spec.methods)
    disagreement = np.zeros(len(y))
    trimmed_score = np.zeros(len(y))
    if need_trimmed:
        progress(f"{data.source}: trimmed-distance neighbours")
        disagreement, trimmed_score = _trimmed_disagreement(x, y, spec.neighbors)
    outliers = (
        disagreement > 1 - OUTLIER_SHARE if "outliers" in spec.methods else np.zeros(len(y), bool)
    )
    if "outliers" in spec.methods:
        methods["outliers"] = outliers
    backdoor = None
    representation = ""
    if {"spectral", "activation-clustering", "reclassification"} & set(spec.methods):
        progress(f"{data.source}: representations for the backdoor screens")
        features, representation = representations(
            target, subset.x, y, n_classes, image=image, epochs=spec.network_epochs, seed=seed
        )
        progress(f"{data.source}: spectral signatures, activation clustering, reclassification")
        backdoor = screen_backdoors(x, y, features, trimmed_score, seed)
        if "spectral" in spec.methods:
            methods["spectral"] = backdoor.spectral
        if "activation-clustering" in spec.methods:
            methods["activation-clustering"] = backdoor.clustering
        if "reclassification" in spec.methods:
            methods["backdoor"] = backdoor.flags
    poison = np.zeros(len(y), dtype=bool)
    for name in ("label-combined", "duplicates", "backdoor"):
        if name in methods:
            poison |= methods[name]
    suspicion = np.zeros(len(y))
    if label_screen is not None:
        suspicion = np.maximum(suspicion, 1.0 - label_screen.given)
    suspicion = np.maximum(suspicion, disagreement)
    if backdoor is not None:
        suspicion[backdoor.flags] = np.maximum(suspicion[backdoor.flags], 0.99)
    if duplicates is not None:
        suspicion[duplicates.flags] = np.maximum(suspicion[duplicates.flags], 0.95)
    return PoisoningReport(
        source=data.source,
        rows=subset.ids,
        labels=y,
        methods=methods,
        poison=poison,
        suspicion=suspicion,
        label_screen=label_screen,
        duplicates=duplicates,
        backdoor=backdoor,
        outliers=outliers,
        representation=representation,
        notes=tuple(notes),
    )


def sanitize(data: Dataset, report: PoisoningReport, directory: Path) -> tuple[Path, Path]:
    """Write ``cleaned.npz`` (x, y, ids without the poison set) and ``removed.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    removed = set(report.ids(report.poison))
    keep = np.array([int(i) not in removed for i in data.ids], dtype=bool)
    cleaned = directory / "cleaned.npz"
    np.savez_compressed(cleaned, x=data.x[keep], y=data.y[keep], ids=data.ids[keep])
    listing = directory / "removed.json"
    listing.write_text(
        json.dumps(
            {
                "source": data.source,
                "removed": sorted(removed),
                "kept": int(keep.sum()),
                "reasons": {
                    name: report.ids(mask) for name, mask in report.methods.items() if mask.any()
                },
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return cleaned, listing
