"""The report of an optimizer comparison: CSV tables, ``report.md`` and plots.

:func:`write_outputs` rebuilds every output from the run records, so the outputs always
match the runs stored so far, also after a resume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from siamese import compare_plots, compare_tables
from siamese.compare_stats import (
    PAIRED_T,
    WILCOXON,
    BestComparison,
    compare_to_best,
    describe,
    pairs_needed_for_wilcoxon,
    smallest_wilcoxon_p,
)
from siamese.files import atomic_write, write_text

#: Metrics of the significance section: column, heading, whether higher is better.
TESTED_METRICS = (
    ("one_shot_accuracy", "One-shot accuracy", True),
    ("eer", "Equal error rate (EER)", False),
    ("roc_auc", "ROC AUC", True),
)

#: Metrics of the results table: column, heading.
TABLE_METRICS = (
    ("one_shot_accuracy", "one-shot accuracy"),
    ("eer", "EER"),
    ("roc_auc", "ROC AUC"),
    ("verification_accuracy", "verification accuracy"),
    ("network_one_shot_accuracy", "one-shot, network alone"),
)

PLOT_FILES = {
    "training_curves": "training_curves.png",
    "final_metrics": "final_metrics.png",
    "roc_curves": "roc_curves.png",
    "learning_rate_sensitivity": "learning_rate_sensitivity.png",
}


def write_outputs(out: Path, settings, records: dict[str, dict], planned: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Write ``results.csv``, ``summary.csv``, ``roc.csv``, the plots and ``report.md`` into ``out``.

    Args:
        out: the comparison folder.
        settings: the :class:`~siamese.compare.CompareSettings` of the comparison.
        records: finished run records keyed by run id.
        planned: number of runs in the full plan, to flag an incomplete comparison.

    Returns:
        ``(results, summary, report_text)``.
    """
    out = Path(out)
    results = compare_tables.results_table(records)
    summary = compare_tables.summary_table(records)
    roc = compare_tables.roc_table(records)
    _write_csv(results, out / "results.csv")
    _write_csv(summary, out / "summary.csv")
    _write_csv(roc, out / "roc.csv")

    plots = {}
    if records:
        plots = write_plots(out, settings.is_sweep, results, summary, roc)

    report = render_report(settings, records, summary, planned, plots)
    write_text(out / "report.md", report)
    return results, summary, report


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda temporary: table.to_csv(temporary, index=False))


def write_plots(out: Path, sweep: bool, results: pd.DataFrame, summary: pd.DataFrame, roc: pd.DataFrame) -> dict[str, str]:
    """Draw every plot that applies and return their file names keyed by plot kind."""
    plots = {}
    compare_plots.plot_training_curves(results, out / PLOT_FILES["training_curves"], sweep)
    plots["training_curves"] = PLOT_FILES["training_curves"]

    compare_plots.plot_final_metrics(summary, out / PLOT_FILES["final_metrics"], sweep)
    plots["final_metrics"] = PLOT_FILES["final_metrics"]

    labelled = compare_tables.add_conditions(summary, sweep)
    compared = compare_tables.best_rate_conditions(labelled)
    curves = compare_tables.add_conditions(compare_tables.interpolated_roc(roc), sweep)
    compare_plots.plot_roc_curves(curves[curves["condition"].isin(compared)], out / PLOT_FILES["roc_curves"])
    plots["roc_curves"] = PLOT_FILES["roc_curves"]

    if sweep:
        compare_plots.plot_learning_rate_sensitivity(summary, out / PLOT_FILES["learning_rate_sensitivity"])
        plots["learning_rate_sensitivity"] = PLOT_FILES["learning_rate_sensitivity"]
    return plots


def significance_tests(summary: pd.DataFrame, sweep: bool) -> list[tuple[str, BestComparison | None]]:
    """Run :func:`~siamese.compare_stats.compare_to_best` for every tested metric.

    With a sweep each optimizer enters at its learning rate with the best mean one-shot
    accuracy. The entry is ``None`` when fewer than two conditions have runs.
    """
    labelled = compare_tables.add_conditions(summary, sweep)
    compared = labelled[labelled["condition"].isin(compare_tables.best_rate_conditions(labelled))]
    tests = []
    for metric, heading, higher_is_better in TESTED_METRICS:
        if compared["condition"].nunique() < 2:
            tests.append((heading, None))
            continue
        tests.append((heading, compare_to_best(compared, metric, higher_is_better)))
    return tests


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """Format a GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _mean_sd(values) -> str:
    """Format mean ± sd, marked with ``(n of N)`` when some of the ``N`` runs lack the value."""
    summary = describe(values)
    if summary.n == 0:
        text = "–"
    elif summary.n < 2:
        text = f"{summary.mean:.3f}"
    else:
        text = f"{summary.mean:.3f} ± {summary.std:.3f}"

    if summary.n < len(values):
        # A run file without this metric gives NaN in the summary, and the "runs" column counts it.
        text += f" ({summary.n} of {len(values)})"
    return text


def _interval(values) -> str:
    summary = describe(values)
    if summary.n < 2:
        return "–"
    return f"[{summary.ci_low:.3f}, {summary.ci_high:.3f}]"


def _p(value: float) -> str:
    if np.isnan(value):
        return "–"
    return f"{value:.4f}" if value >= 1e-4 else f"{value:.1e}"


def results_section(summary: pd.DataFrame, sweep: bool) -> str:
    """Return the table of mean ± sd and 95% confidence intervals per condition."""
    labelled = compare_tables.add_conditions(summary, sweep)
    header = ["optimizer", "learning rate", "runs"]
    for _, name in TABLE_METRICS:
        header += [f"{name} mean ± sd", f"{name} 95% CI"]
    header.append("train s (mean)")

    rows = []
    for condition, runs in labelled.groupby("condition", sort=False):
        row = [str(runs["optimizer"].iloc[0]), f"{runs['learning_rate'].iloc[0]:g}", str(len(runs))]
        for metric, _ in TABLE_METRICS:
            row += [_mean_sd(runs[metric]), _interval(runs[metric])]
        row.append(f"{runs['train_seconds'].mean():.0f}")
        rows.append(row)
    return markdown_table(header, rows)


def significance_section(heading: str, comparison: BestComparison | None) -> str:
    """Return the Markdown of one metric's significance tests, with a plain conclusion."""
    lines = [f"### {heading}", ""]
    if comparison is None:
        lines.append("Only one optimizer has finished runs, so there is nothing to compare.")
        return "\n".join(lines)

    table = comparison.table
    direction = "higher" if comparison.higher_is_better else "lower"
    lines.append(f"Best mean ({direction} is better): **{comparison.best}**. Test: {comparison.test}.")
    lines.append("")

    rows = []
    for row in table.itertuples():
        if row.n_pairs < 2:
            verdict = "too few pairs to test"
        elif row.significant:
            verdict = f"{comparison.best} significantly better"
        else:
            verdict = "no significant difference"
        rows.append(
            [
                str(row.condition), str(row.n_pairs), f"{row.best_mean:.3f}", f"{row.other_mean:.3f}",
                f"{row.mean_difference:+.3f}", _p(row.p_value), _p(row.p_holm), verdict,
            ]
        )
    header = ["compared with", "pairs", f"{comparison.best} mean", "other mean", "difference", "p", "p (Holm)", "verdict"]
    lines.append(markdown_table(header, rows))
    lines.append("")
    lines.append(conclusion(comparison))
    return "\n".join(lines)


def conclusion(comparison: BestComparison) -> str:
    """Return one paragraph stating what the tests of one metric allow to conclude."""
    table = comparison.table
    n_pairs = int(table["n_pairs"].min())
    if n_pairs < 2:
        return (
            "**Too small to conclude:** some comparisons have fewer than 2 paired runs, so no test is "
            "possible. Use more seeds (`--seeds`) or folds (`--folds`)."
        )

    better_than = list(table.loc[table["significant"], "condition"])
    not_different = list(table.loc[~table["significant"], "condition"])
    parts = []
    if better_than:
        parts.append(f"{comparison.best} is significantly better than {', '.join(better_than)}.")
    if not_different:
        parts.append(
            f"The difference from {', '.join(not_different)} is not significant, so these runs do not "
            f"show that {comparison.best} is better than {'it' if len(not_different) == 1 else 'them'}."
        )
    if comparison.test == PAIRED_T:
        parts.append(f"**With {n_pairs} pairs the sample is too small to conclude firmly** (see the choice of test above).")
    return " ".join(parts)


def test_choice_paragraph(comparison: BestComparison) -> str:
    """Return why the report uses the Wilcoxon test or the paired t-test, and what that implies."""
    n_pairs = int(comparison.table["n_pairs"].min())
    n_comparisons = len(comparison.table)
    needed = pairs_needed_for_wilcoxon(n_comparisons, comparison.alpha)
    correction = f"the Holm correction over {n_comparisons} comparison{'s' if n_comparisons != 1 else ''}"
    if comparison.test == WILCOXON:
        return (
            f"Choice of test: the exact Wilcoxon signed-rank test, which assumes nothing about the "
            f"shape of the differences. With {n_pairs} pairs it can reach p < {comparison.alpha} after "
            f"{correction}."
        )
    return (
        f"Choice of test: the paired t-test. With {n_pairs} pairs the exact Wilcoxon signed-rank "
        f"test cannot reach p < {comparison.alpha} after {correction}: its smallest possible p-value "
        f"is {smallest_wilcoxon_p(n_pairs):.3g} before correction. The t-test assumes normally "
        f"distributed differences, which {n_pairs} pairs cannot check, so **the sample is too small "
        f"to conclude firmly**, and a non-significant result is weak evidence of no difference. "
        f"The Wilcoxon test needs at least {needed} pairs here, for example `--seeds {needed}` or "
        f"`--folds 5 --seeds {-(-needed // 5)}`."
    )


def fairness_section(records: dict[str, dict]) -> str:
    """Return a paragraph that states whether runs of one (seed, fold) had identical inputs."""
    groups, problems = compare_tables.fairness_problems(records)
    if not problems:
        return (
            f"Checked {groups} (seed, fold) groups: within each, every run started from identical "
            f"initial weights (SHA-256 of the weights), drew identical batches (SHA-256 of every "
            f"batch's image indices; the augmentation is seeded by the same seed, epoch and step) "
            f"and used the same train and test identities."
        )
    return "**Runs of one (seed, fold) did not have identical inputs:**\n\n" + "\n".join(f"- {problem}" for problem in problems)


def projection_note(settings) -> list[str]:
    """Return a paragraph on what the discriminant projection hides, or nothing without it."""
    if not settings.shared_train_config().get("discriminant_projection", True):
        return []

    if settings.folds == 1:
        effect = (
            "On the standard split a network trained for only 2 batches scores about as well as "
            "a fully trained one, so differences between optimizers there may come from noise. "
            "`--no-projection` or `--folds 5` compare the training more directly."
        )
    else:
        effect = (
            "On the five AT&T cross-validation folds the default training added about 0.027 to "
            "the one-shot accuracy of a network trained for only 2 batches, so the training "
            "still shows, but less than without the projection."
        )
    return [
        "The reported metrics are those of the final embeddings, after the discriminant "
        "projection fitted on the training identities. The projection does much of the work. "
        f"{effect} The column \"one-shot, network alone\" (the last epoch's validation one-shot "
        "accuracy of the network's own embeddings, over fewer gallery draws) and the training "
        "curves show the training itself.",
        "",
    ]


def render_report(settings, records: dict[str, dict], summary: pd.DataFrame, planned: int, plots: dict[str, str]) -> str:
    """Return the Markdown text of ``report.md``."""
    training = ", ".join(f"{key}={value}" for key, value in settings.shared_train_config().items())
    lines = ["# Optimizer comparison", ""]
    if len(records) < planned:
        lines += [f"**Incomplete:** {len(records)} of {planned} planned runs are finished. Run the same command again to finish the others.", ""]
    else:
        lines += [f"All {planned} planned runs are finished.", ""]

    split = (
        "the standard AT&T split (train s1–s35, test s36–s40)"
        if settings.folds == 1
        else f"{settings.folds} subject-disjoint folds (identity permutation seed {settings.to_dict()['fold_seed']})"
    )
    if settings.learning_rates is None:
        rates = "each optimizer's default learning rate (see the table)"
    elif settings.is_sweep:
        rates = "a sweep over " + ", ".join(f"{rate:g}" for rate in settings.learning_rates)
    else:
        rates = f"{settings.learning_rates[0]:g} for every optimizer"
    lines += [
        f"- Optimizers: {', '.join(settings.optimizers)}; learning rates: {rates}, with cosine decay to 0.",
        f"- Seeds: {', '.join(str(seed) for seed in settings.seeds)}; split: {split}.",
        f"- Training settings shared by every run: {training}.",
        "",
        "Every metric is measured on the test identities, which training never sees. One-shot "
        "accuracy is N-way identification with one random gallery image per identity, averaged "
        "over 200 random galleries. EER and ROC AUC use every pair of test images. Verification "
        "accuracy is the balanced accuracy at the distance threshold chosen on the training "
        "identities.",
        "",
        *projection_note(settings),
        "## Fairness check",
        "",
        fairness_section(records) if records else "No finished runs yet.",
        "",
    ]
    if not records:
        return "\n".join(lines)

    lines += [
        "## Results per optimizer",
        "",
        "Mean ± sample standard deviation over runs, and the two-sided 95% confidence interval "
        "of the mean from the t-distribution (none for a single run).",
        "",
        results_section(summary, settings.is_sweep),
        "",
        "## Is the best optimizer significantly better?",
        "",
        "Each test pairs the runs of two optimizers that share a seed and fold, so both started "
        "from the same weights and saw the same batches. p-values are two-sided. The Holm "
        "correction adjusts them for testing the best optimizer against every other one.",
    ]
    if settings.is_sweep:
        lines += [
            "",
            "With a learning-rate sweep, each optimizer enters at its learning rate with the best "
            "mean one-shot accuracy. Because the rate is chosen on the same test runs, these "
            "p-values are somewhat optimistic.",
        ]
    if settings.folds > 1:
        lines += [
            "",
            "The training sets of different folds overlap, so their results are correlated. The "
            "tests treat all pairs as independent, which makes the p-values somewhat too small.",
        ]
    lines.append("")
    tests = significance_tests(summary, settings.is_sweep)
    first = next((comparison for _, comparison in tests if comparison is not None), None)
    if first is not None:
        lines += [test_choice_paragraph(first), ""]
    for heading, comparison in tests:
        lines += [significance_section(heading, comparison), ""]

    if plots:
        lines += ["## Figures", ""]
        captions = {
            "training_curves": "Per-epoch training loss, validation one-shot accuracy and validation EER (mean ± 1 sd).",
            "final_metrics": "Final one-shot accuracy and EER of every run.",
            "roc_curves": "Mean ROC curve per optimizer on the test pairs (in a sweep, at its best learning rate).",
            "learning_rate_sensitivity": "Final metrics against the learning rate.",
        }
        for kind, name in plots.items():
            lines += [f"![{captions[kind]}]({name})", "", captions[kind], ""]
    return "\n".join(lines)


def format_summary(summary: pd.DataFrame, sweep: bool) -> str:
    """Return a plain-text table of mean ± sd per condition, for the terminal."""
    labelled = compare_tables.add_conditions(summary, sweep)
    rows = []
    for condition, runs in labelled.groupby("condition", sort=False):
        rows.append(
            {
                "optimizer": condition,
                "runs": len(runs),
                "one-shot acc": _mean_sd(runs["one_shot_accuracy"]),
                "EER": _mean_sd(runs["eer"]),
                "ROC AUC": _mean_sd(runs["roc_auc"]),
                "one-shot, network alone": _mean_sd(runs["network_one_shot_accuracy"]),
                "train s": f"{runs['train_seconds'].mean():.0f}",
            }
        )
    return pd.DataFrame(rows).to_string(index=False)
