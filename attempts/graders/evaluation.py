"""Measure a grader's agreement with human scores on the SAS short-answer data (ADS).

    python -m attempts.graders.evaluation --split train    # tune on this
    python -m attempts.graders.evaluation --split test     # the held-out split: report, never tune

The data (``/work/shared/datasets/sas/ADS``, or ``--data``) pairs a question and up to three
reference answers with a student's answer and a human score 0–10. It has no rubric, so
the key points are derived from the first reference answer (``key_points_derive``), as for
a seed question without one. Reported: Pearson and Spearman correlation with the human
score, and the mean absolute error after scaling the human score to 0–100.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from attempts.graders.base import GradingRequest, key_points_derive

DEFAULT_DATA = Path("/work/shared/datasets/sas/ADS")


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    return cov / math.sqrt(var_x * var_y) if var_x and var_y else 0.0


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    return pearson(_ranks(xs), _ranks(ys))


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def request_for(row: dict) -> GradingRequest:
    reference = row["reference1"].strip()
    return GradingRequest(
        question=row["question"].strip(),
        reference_answer=reference,
        key_points=key_points_derive(reference),
        misconceptions=(),
        answer=row["answer"].strip(),
    )


def evaluate(rows: list[dict], grade: object) -> dict[str, float]:
    predicted, human = [], []
    for row in rows:
        predicted.append(float(grade(request_for(row)).score))  # type: ignore[operator]
        human.append(float(row["score"]) * 10)
    return {
        "n": len(rows),
        "pearson": round(pearson(predicted, human), 3),
        "spearman": round(spearman(predicted, human), 3),
        "mae": round(sum(abs(p - h) for p, h in zip(predicted, human, strict=True)) / len(rows), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("train", "test"), default="train")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    options = parser.parse_args(argv)
    path = options.data / f"{options.split}.jsonl"
    if not path.exists():
        parser.error(f"{path} does not exist")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_platform.settings")
    from attempts.graders.offline import OfflineGrader

    result = evaluate(load(path), OfflineGrader().grade)
    print(json.dumps({"split": options.split, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
