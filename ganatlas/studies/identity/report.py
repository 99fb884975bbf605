"""Markdown summary of the identity search table."""

from __future__ import annotations

import pandas as pd


def search_report(df: pd.DataFrame) -> str:
    """The table across targets and methods, with success counts per method."""
    lines = ["# Identity search", ""]
    if df.empty:
        return "\n".join([*lines, "No targets: set identity.targets (docs/identity.md).", ""])
    done = df[df["status"] == "done"]
    for method, sub in done.groupby("method"):
        lines.append(f"- {method}: reached the threshold for {int(sub['success'].sum())} of "
                     f"{len(sub)} targets")  # fmt: skip
    for _, r in df[df["status"] == "skipped"].drop_duplicates("method").iterrows():
        lines.append(f"- {r['method']}: skipped ({r['reason']})")
    lines += ["", df.to_markdown(index=False, floatfmt=".4g"), ""]
    return "\n".join(lines)
