"""Statistics of an optimizer comparison: confidence intervals and paired significance tests.

Every run of a comparison is identified by ``(seed, fold)`` within its condition (an
optimizer at one learning rate). Two conditions are compared on the runs they share, so each
pair of numbers comes from the same initial weights, batches and split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Significance level of every test in the report.
ALPHA = 0.05

WILCOXON = "Wilcoxon signed-rank test (exact, two-sided)"
PAIRED_T = "paired t-test (two-sided)"

#: Columns that identify one run; pairs are matched on them.
PAIR_KEYS = ("seed", "fold")


@dataclass(frozen=True)
class Description:
    """Mean, sample standard deviation and 95% t-interval of one condition's values.

    ``std``, ``ci_low`` and ``ci_high`` are NaN when ``n < 2``.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def describe(values) -> Description:
    """Summarise float values with a two-sided 95% confidence interval from the t-distribution."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return Description(0, float("nan"), float("nan"), float("nan"), float("nan"))

    mean = float(np.mean(values))
    if n < 2:
        return Description(1, mean, float("nan"), float("nan"), float("nan"))

    std = float(np.std(values, ddof=1))
    half_width = float(stats.t.ppf(1 - ALPHA / 2, df=n - 1)) * std / np.sqrt(n)
    return Description(n, mean, std, mean - half_width, mean + half_width)


def holm(p_values) -> np.ndarray:
    """Return Holm–Bonferroni adjusted p-values, in the input order.

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i`` (``i`` from 0), then a
    running maximum keeps the adjusted values in the same order, and each is capped at 1.
    NaN p-values stay NaN and do not count towards ``m``.
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p_values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p_values))
    m = len(valid)

    order = valid[np.argsort(p_values[valid], kind="stable")]
    running_max = 0.0
    for rank, index in enumerate(order):
        running_max = max(running_max, (m - rank) * p_values[index])
        adjusted[index] = min(1.0, running_max)
    return adjusted


def smallest_wilcoxon_p(n_pairs: int) -> float:
    """Return the smallest two-sided p-value the exact Wilcoxon test can give for ``n_pairs``.

    It occurs when all differences share one sign: ``2 / 2**n_pairs`` (0.25 for 3 pairs).
    """
    return min(1.0, 2.0 / 2.0**n_pairs)


def pairs_needed_for_wilcoxon(n_comparisons: int, alpha: float = ALPHA) -> int:
    """Return the fewest pairs with which the exact Wilcoxon test can pass ``alpha`` after Holm.

    Holm multiplies the smallest p-value by ``n_comparisons``, so the test needs
    ``n_comparisons * 2 / 2**n < alpha`` (8 pairs for 5 comparisons at 0.05).
    """
    n_pairs = 1
    while smallest_wilcoxon_p(n_pairs) * max(n_comparisons, 1) >= alpha:
        n_pairs += 1
    return n_pairs


def choose_paired_test(n_pairs: int, n_comparisons: int, alpha: float = ALPHA) -> str:
    """Pick the Wilcoxon signed-rank test when it can reach significance, else the paired t-test.

    The Wilcoxon test needs no normality assumption, but with few pairs even the most extreme
    outcome cannot pass ``alpha`` after the Holm correction over ``n_comparisons`` tests
    (for 5 comparisons it needs at least 8 pairs). Below that size the paired t-test is used,
    which assumes roughly normal paired differences.
    """
    if n_pairs >= pairs_needed_for_wilcoxon(n_comparisons, alpha):
        return WILCOXON
    return PAIRED_T


def paired_p_value(first, second, test: str) -> float:
    """Return the two-sided p-value of ``test`` for paired float samples of equal length.

    Returns 1.0 when every difference is zero and NaN when there are fewer than two pairs.
    """
    differences = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    if len(differences) < 2:
        return float("nan")
    if np.all(differences == 0):
        return 1.0

    if test == WILCOXON:
        return float(stats.wilcoxon(differences, method="auto").pvalue)
    if test == PAIRED_T:
        return float(stats.ttest_rel(first, second).pvalue)
    raise ValueError(f"Unknown test {test!r}; expected {WILCOXON!r} or {PAIRED_T!r}.")


@dataclass
class BestComparison:
    """The best condition on one metric, tested against every other condition.

    Attributes:
        metric: column of the summary that was compared.
        higher_is_better: whether a larger value of ``metric`` is better.
        best: label of the condition with the best mean.
        test: name of the paired test used for every row.
        table: one row per other condition with ``condition``, ``n_pairs``,
            ``best_mean``, ``other_mean``, ``mean_difference`` (best minus other), ``p_value``,
            ``p_holm`` and ``significant`` (``p_holm < alpha``).
        alpha: significance level.
    """

    metric: str
    higher_is_better: bool
    best: str
    test: str
    table: pd.DataFrame
    alpha: float = ALPHA


def compare_to_best(
    summary: pd.DataFrame,
    metric: str,
    higher_is_better: bool,
    condition_column: str = "condition",
    test: str = "auto",
    alpha: float = ALPHA,
) -> BestComparison:
    """Test the condition with the best mean ``metric`` against each other condition.

    Values are paired on ``(seed, fold)``; runs that the other condition lacks are left out
    of that pair of conditions. p-values are two-sided and Holm-corrected over the
    comparisons with the best condition.

    NOTE: pairs from different subject folds share most of their training identities, so
    they are not independent, and no correction for that overlap is applied. With
    ``folds > 1`` the p-values are somewhat too small.

    Args:
        summary: one row per run with ``condition_column``, ``seed``, ``fold`` and ``metric``.
        metric: the column to compare, for example ``one_shot_accuracy``.
        higher_is_better: ``True`` for accuracies, ``False`` for error rates such as ``eer``.
        condition_column: column naming the condition of each run.
        test: ``"auto"`` (see :func:`choose_paired_test`), ``WILCOXON`` or ``PAIRED_T``.
        alpha: significance level. Defaults to 0.05.

    Raises:
        ValueError: ``summary`` has fewer than two conditions or lacks a needed column.
    """
    needed = [condition_column, *PAIR_KEYS, metric]
    missing = [column for column in needed if column not in summary.columns]
    if missing:
        raise ValueError(f"The summary lacks the columns {missing}; expected {needed}.")
    conditions = list(dict.fromkeys(summary[condition_column]))
    if len(conditions) < 2:
        raise ValueError(f"Need at least two conditions to compare; received {conditions}.")

    means = summary.groupby(condition_column, sort=False)[metric].mean()
    best = str(means.idxmax() if higher_is_better else means.idxmin())
    by_run = summary.pivot_table(index=list(PAIR_KEYS), columns=condition_column, values=metric, aggfunc="first")

    others = [condition for condition in conditions if condition != best]
    paired = {other: by_run[[best, other]].dropna() for other in others}
    if test == "auto":
        smallest_n = min(len(pairs) for pairs in paired.values())
        test = choose_paired_test(smallest_n, len(others), alpha)

    rows = []
    for other in others:
        pairs = paired[other]
        rows.append(
            {
                "condition": other,
                "n_pairs": len(pairs),
                "best_mean": float(pairs[best].mean()),
                "other_mean": float(pairs[other].mean()),
                "mean_difference": float((pairs[best] - pairs[other]).mean()),
                "p_value": paired_p_value(pairs[best].to_numpy(), pairs[other].to_numpy(), test),
            }
        )
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy())
    table["significant"] = table["p_holm"] < alpha
    return BestComparison(metric, higher_is_better, best, test, table, alpha)
