"""The rules ``bastion assess`` reports: robustness (``BST-ASR``), privacy (``BST-APR``) and
training-data poisoning (``BST-APD``).

Every assessment finding carries the measured metrics in ``Finding.properties["metrics"]`` and
the thresholds it was judged against in ``Finding.properties["thresholds"]``. A measurement
within policy is reported at ``info`` severity (so JSON and SARIF still carry the numbers); a
measurement outside policy gets the rule's severity (or the one the policy names), which the
usual ``fail_on`` gate then blocks.

>>> from bastion.assess.rules import RULES
>>> sorted({r.id.split("-")[1] for r in RULES})
['APD', 'APR', 'ASR']
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule

EVASION = References(
    cwe=("CWE-1039",),
    owasp=("ML01:2023",),
    atlas=("AML.T0043", "AML.T0015"),
    nist=("MEASURE 2.7", "NISTAML.022"),
)
MEMBERSHIP = References(
    cwe=("CWE-200",),
    owasp=("ML04:2023",),
    atlas=("AML.T0024.000",),
    nist=("MEASURE 2.10", "NISTAML.033"),
)
INVERSION = References(
    cwe=("CWE-200",),
    owasp=("ML03:2023",),
    atlas=("AML.T0024.001",),
    nist=("MEASURE 2.10", "NISTAML.032"),
)
POISONING = References(
    cwe=("CWE-20",),
    owasp=("ML02:2023", "LLM04:2025"),
    atlas=("AML.T0020", "AML.T0059"),
    nist=("MEASURE 2.7", "NISTAML.013"),
)
BACKDOOR = References(
    owasp=("ML10:2023", "ML02:2023", "LLM04:2025"),
    atlas=("AML.T0018.000", "AML.T0043.004", "AML.T0020"),
    nist=("MEASURE 2.7", "NISTAML.023"),
)

_ROBUST_FIX = (
    "Train with adversarial examples (`bastion harden adversarial`), restrict and validate the "
    "input domain at the gateway, and re-run the assessment; if the threshold is deliberately "
    "strict for this model, relax it in the [assess.robustness] table with a justification."
)

ASR_WHITEBOX = Rule(
    "BST-ASR-001",
    "Robust accuracy below policy under white-box attack",
    Severity.HIGH,
    "assessment",
    doc="""
    Gradient attacks (FGSM, PGD with random starts in L-inf or L2, and APGD-CE, the
    step-size-free attack of AutoAttack) crafted adversarial inputs within an epsilon-ball of
    held-out samples, and the model's accuracy on them fell below the policy's minimum for at
    least one epsilon. White-box attacks are the strongest first-order adversary: accuracy
    under them is an upper bound on what an attacker with the weights achieves.

    Metrics: clean accuracy, robust accuracy and attack success rate per epsilon, median
    perturbation norm of the successful examples, and the robust-accuracy curve over epsilon.
    """,
    remediation=_ROBUST_FIX,
    references=EVASION.merged(References(atlas=("AML.T0043.000",))),
)
ASR_SCORE = Rule(
    "BST-ASR-002",
    "Robust accuracy below policy under score-based black-box attack",
    Severity.HIGH,
    "assessment",
    doc="""
    A query-only attack that sees the model's probabilities (the Square attack: random
    square-shaped updates at the corners of the L-inf ball, accepted when they lower the margin
    between the true class and the best other class) found adversarial inputs within epsilon.
    It works on models without gradients (trees, ONNX graphs, remote endpoints), so it measures
    what any API user could do. Queries per sample are reported.
    """,
    remediation=_ROBUST_FIX,
    references=EVASION.merged(
        References(atlas=("AML.T0043.001", "AML.T0040"), nist=("NISTAML.025",))
    ),
)
ASR_DECISION = Rule(
    "BST-ASR-003",
    "Robust accuracy below policy under decision-based (label-only) attack",
    Severity.HIGH,
    "assessment",
    doc="""
    A hard-label attack that only sees the predicted class (RayS: a search over sign directions
    for the nearest decision boundary in L-inf, refined block by block) found adversarial inputs
    within epsilon. Hiding probabilities does not stop it; it needs far fewer queries than
    HopSkipJump for the same success rate.
    """,
    remediation=_ROBUST_FIX,
    references=EVASION.merged(
        References(atlas=("AML.T0043.001", "AML.T0040"), nist=("NISTAML.025",))
    ),
)
ASR_CLEAN = Rule(
    "BST-ASR-004",
    "Clean accuracy below policy",
    Severity.HIGH,
    "assessment",
    doc="""
    The model's accuracy on the held-out data is below the minimum the policy sets. Utility is
    measured next to robustness and privacy because hardening trades it away: a differentially
    private forest at a small epsilon leaks nothing, and often predicts little better than
    chance.
    """,
    remediation="Check the data and the model; when hardening, choose a larger privacy budget "
    "or fewer adversarial-training steps and compare before/after in the report.",
    references=References(nist=("MEASURE 2.3", "MEASURE 2.5")),
)
ASR_FALLBACK = Rule(
    "BST-ASR-005",
    "White-box attack not possible: black-box attacks used instead",
    Severity.LOW,
    "assessment",
    doc="""
    The policy asked for gradient attacks but the target is not differentiable (a tree
    ensemble, an ONNX graph, a remote endpoint). bastion ran the score-based and label-only
    attacks instead; their numbers are an upper bound on robust accuracy, not the white-box
    figure the policy asked for.
    """,
    remediation="Assess a differentiable copy of the model (a PyTorch module) for a white-box "
    "figure, or list only black-box attacks in [assess.robustness].",
    references=EVASION,
    confidence=Confidence.MEDIUM,
)
ASR_PARTIAL = Rule(
    "BST-ASR-006",
    "Assessment cut short by the query budget, rate limit or time budget",
    Severity.MEDIUM,
    "assessment",
    doc="""
    A black-box assessment of an endpoint stopped before every sample was attacked: the query
    budget ran out, the endpoint kept rate-limiting, or the time budget was spent. The metrics
    cover the samples attacked so far and say how many that was.
    """,
    remediation="Raise query_budget or time_budget_s for the target, or assess a local copy of "
    "the model.",
    references=EVASION,
    confidence=Confidence.MEDIUM,
)

_PRIVACY_FIX = (
    "Reduce memorisation: regularise (shallower trees, min_samples_leaf, weight decay, early "
    "stopping), train with differential privacy (`bastion harden dp`), and expose labels or "
    "rounded scores instead of full probability vectors at the API."
)

APR_THRESHOLD = Rule(
    "BST-APR-001",
    "Membership inference above policy (loss, confidence and classifier attacks)",
    Severity.HIGH,
    "assessment",
    doc="""
    Attacks that need no shadow models told training members from held-out records better than
    the policy allows: the loss-threshold and confidence-threshold attacks (Yeom et al.) and a
    classifier trained on half of the known members and non-members (the black-box attack of
    ART's MembershipInferenceBlackBox, evaluated on the other half). Reported: ROC AUC, best
    balanced accuracy, and the true-positive rate at 1% and 0.1% false-positive rate.
    """,
    remediation=_PRIVACY_FIX,
    references=MEMBERSHIP,
)
APR_LIRA = Rule(
    "BST-APR-002",
    "Membership inference above policy (likelihood-ratio attack with shadow models)",
    Severity.HIGH,
    "assessment",
    doc="""
    The likelihood-ratio attack (LiRA, Carlini et al. 2022) trains shadow models on random
    halves of the population, fits per-record Gaussians to the logit-scaled confidence of
    models that did (online) and did not (offline) train on each record, and tests the target's
    confidence against them. It is the strongest black-box membership attack in common use and
    the literature judges it by its true-positive rate at very low false-positive rates (0.1%,
    1%), not by AUC alone.
    """,
    remediation=_PRIVACY_FIX,
    references=MEMBERSHIP,
)
APR_INVERSION = Rule(
    "BST-APR-003",
    "Model inversion reconstructs class representatives",
    Severity.MEDIUM,
    "assessment",
    doc="""
    Starting from the population mean, an optimiser that only maximises the model's confidence
    in one class (gradient ascent for differentiable models, a query-only random search
    otherwise) produced inputs that resemble that class's training mean more than any other
    class's mean (cosine similarity of the centred images). When classes are people or
    sensitive groups, the reconstruction is the leak.
    """,
    remediation="Return labels or coarse scores instead of full confidences, limit queries per "
    "client at the gateway, and train with differential privacy.",
    references=INVERSION,
    confidence=Confidence.MEDIUM,
)
APR_EXPOSED = Rule(
    "BST-APR-004",
    "Training records individually exposed",
    Severity.MEDIUM,
    "assessment",
    doc="""
    Some training records are identified as members with near certainty: their per-record
    likelihood ratio (or loss-attack score when no shadow models ran) is beyond the level that
    a 0.1%-false-positive-rate attacker would flag. The finding lists the most exposed record
    ids; they are typically outliers, rare classes or mislabelled records.
    """,
    remediation="Review the listed records (remove duplicates and outliers or add similar data), "
    "then regularise or train with differential privacy.",
    references=MEMBERSHIP,
    confidence=Confidence.MEDIUM,
)
APR_DP = Rule(
    "BST-APR-005",
    "Differential-privacy guarantee",
    Severity.HIGH,
    "assessment",
    doc="""
    States the (epsilon, delta) differential-privacy guarantee the model was trained with, as
    declared in the target's configuration or recorded by `bastion harden dp`. It is reported
    at info severity; it blocks only when the policy caps epsilon (max_epsilon) and the
    guarantee is weaker, or requires a guarantee (require_dp) and there is none.
    """,
    remediation="Retrain with `bastion harden dp` at the epsilon the policy allows.",
    references=MEMBERSHIP,
)
APR_FALLBACK = Rule(
    "BST-APR-006",
    "Shadow-model attack not run",
    Severity.LOW,
    "assessment",
    doc="""
    The likelihood-ratio attack needs the target's training recipe to train shadow models. For
    scikit-learn estimators bastion clones the estimator; for other targets a `train` entry
    point must be configured. Without it only the shadow-free attacks ran, and their numbers
    understate the leakage at low false-positive rates.
    """,
    remediation='Configure `train = "module:function"` for the target in [assess.targets].',
    references=MEMBERSHIP,
    confidence=Confidence.MEDIUM,
)

_DATA_FIX = (
    "Review the listed sample ids, fix or remove them (`bastion assess data --sanitize DIR` "
    "writes a cleaned copy and the removed ids), and trace where they entered the pipeline."
)

APD_LABELS = Rule(
    "BST-APD-001",
    "Label errors or flipped labels in training data",
    Severity.HIGH,
    "assessment",
    doc="""
    Samples whose label disagrees with what models trained without them predict: confident
    learning (cleanlab) on cross-validated probabilities, and agreement of a kernel model and a
    k-nearest-neighbour vote. Random label noise and deliberate label flipping both show here.
    The rate is judged against max_label_issue_rate.
    """,
    remediation=_DATA_FIX,
    references=POISONING,
)
APD_DUPLICATES = Rule(
    "BST-APD-002",
    "Duplicate samples with conflicting labels",
    Severity.MEDIUM,
    "assessment",
    doc="""
    Exact duplicates (same feature bytes) or near duplicates (closer than a small fraction of
    the typical nearest-neighbour distance) that carry different labels. At least one of each
    pair is wrong; many such pairs indicate injected data.
    """,
    remediation=_DATA_FIX,
    references=POISONING,
)
APD_OUTLIERS = Rule(
    "BST-APD-003",
    "Class-conditional outliers in training data",
    Severity.LOW,
    "assessment",
    doc="""
    Samples far from the rest of their own class but close to another class (a distance that
    ignores the few most different features, so that a small trigger patch does not hide the
    content). Outliers are not necessarily poison; they are what a reviewer should look at
    first.
    """,
    remediation=_DATA_FIX,
    references=POISONING,
    confidence=Confidence.LOW,
)
APD_BACKDOOR = Rule(
    "BST-APD-004",
    "Backdoor signature in a class",
    Severity.HIGH,
    "assessment",
    doc="""
    One class holds a group of samples that look like other classes and that models trained
    without them assign to those other classes: the signature of a trigger stamped on inputs
    relabelled to a target class. Candidates are ranked by a trimmed-distance neighbour vote,
    spectral signatures and activation clustering on the penultimate-layer representation of a
    trained network, and confirmed by exclusionary reclassification. The class is reported only
    when its reclassification rate stands far above the other classes'.
    """,
    remediation="Remove the flagged samples, retrain, and check the model with the suspected "
    "trigger; find out where the samples came from.",
    references=BACKDOOR,
)
APD_RATE = Rule(
    "BST-APD-005",
    "Estimated poisoning rate above policy",
    Severity.HIGH,
    "assessment",
    doc="""
    The union of all confirmed signals (label issues, conflicting duplicates, backdoor groups)
    as a fraction of the training set, judged against max_poison_rate.
    """,
    remediation=_DATA_FIX,
    references=POISONING.merged(BACKDOOR),
)
APD_NONFINITE = Rule(
    "BST-APD-006",
    "Rows with missing or non-finite values dropped",
    Severity.LOW,
    "assessment",
    doc="""
    The data contained NaN or infinite values and the configuration says nan_policy = "drop":
    the rows were left out of every measurement. With the default nan_policy = "error" the
    assessment stops instead and names the rows.
    """,
    remediation="Fix the data pipeline that produced the missing values.",
    references=References(cwe=("CWE-20",), owasp=("ML02:2023",), nist=("MEASURE 2.1",)),
)

RULES: tuple[Rule, ...] = (
    ASR_WHITEBOX,
    ASR_SCORE,
    ASR_DECISION,
    ASR_CLEAN,
    ASR_FALLBACK,
    ASR_PARTIAL,
    APR_THRESHOLD,
    APR_LIRA,
    APR_INVERSION,
    APR_EXPOSED,
    APR_DP,
    APR_FALLBACK,
    APD_LABELS,
    APD_DUPLICATES,
    APD_OUTLIERS,
    APD_BACKDOOR,
    APD_RATE,
    APD_NONFINITE,
)
