"""The offline grader: deterministic key-point coverage, no network, Chinese-aware.

How a grade is computed (version ``offline-keypoint-v1``; weights tuned on the SAS
training split only, see docs/grading.md for the held-out agreement):

1. Text is segmented with jieba (precise mode), lower-cased; punctuation and stop words
   are dropped. Each word weighs its jieba IDF (common words count little), capped at the
   median IDF so rare jargon does not dominate. Words of the question weigh less
   (``QUESTION_WORD_WEIGHT``): repeating the question is not an answer.
2. A rubric point is covered in proportion to the weight of its words found in the
   answer (a word also counts when it occurs inside the answer's text, so "监督微调" matches
   however jieba split it). Text in parentheses is an alternative spelling: the point is
   scored with and without it and the better reading counts.
3. The score blends rubric coverage (each point ramped between ``COVERAGE_FLOOR`` and
   ``COVERAGE_FULL``), coverage of the whole reference's words (``REFERENCE_WEIGHT``) and
   the share of the reference's character bigrams the answer uses (``BIGRAM_WEIGHT``,
   robust to segmentation); each listed misconception found costs ``MISCONCEPTION_PENALTY``.
4. A misconception is found when a sentence of the answer contains most of the words
   that distinguish it from the reference answer, without a negation ("不是", "并非");
   that sentence then earns no rubric credit.
5. Sentences that try to instruct the grader ("忽略以上指令", "give full marks") are not
   read as content, and the feedback says so.

Every result is labelled: grader ``offline``, model ``offline-keypoint-v1``, and the
feedback opens by saying it was graded offline without a language model.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from attempts.graders.base import (
    EVIDENCE_MAX_CHARS,
    GradingRequest,
    GradingResult,
    KeyPointResult,
    MisconceptionFound,
    clip,
)

NAME = "offline"
MODEL = "offline-keypoint-v1"

COVERAGE_FLOOR = 0.0  # below this a point earns nothing
COVERAGE_FULL = 0.4  # at or above this a point earns full credit
COVERED_THRESHOLD = 0.4  # reported as "covered" from here
QUESTION_WORD_WEIGHT = 0.5
REFERENCE_WEIGHT = 0.3  # share of whole-reference word coverage in the coverage score
BIGRAM_WEIGHT = 0.4  # share of the reference's character bigrams found in the answer
BIGRAM_FLOOR, BIGRAM_FULL = 0.05, 0.4
MISCONCEPTION_PENALTY = 30
MISCONCEPTION_MATCH = 0.6  # share of the words that distinguish a misconception from the reference
MISCONCEPTION_CLAIM_MATCH = 0.5  # share of all its words, in the same sentence
OFFLINE_NOTICE = "（离线评分：本结果由离线关键词评分器给出，未使用大模型，仅供参考。）"

_STOP_WORDS = frozenset(
    """的 了 是 在 和 与 及 或 吗 呢 啊 吧 么 也 就 都 而 并 其 之 以 于 为 被 把 对 从 由 到 这 那 这个 那个 这些 那些
    一个 一种 什么 怎么 如何 为什么 哪些 有 有哪些 可以 能 会 要 需要 进行 通过 使用 用 等 等等 即 则 但 但是 所以 因为
    如果 那么 比如 例如 它 它们 我们 你 我 他 中 上 下 时 后 前 个 些 很 更 最 不 没有 及其 以及 还 又 再 只 已 已经
    a an the of to in on for and or is are be by with as it this that what how why which""".split()
)
_WORD_RE = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)
_PAREN_RE = re.compile(r"[（(][^（）()]*[）)]")
_SENTENCE_RE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
_NEGATION_RE = re.compile(
    r"不是|并非|并不|而非|不等于|不能说|错误地|误以为|误认为|是错的|不正确|\bnot\b|\bisn't\b", re.I
)
_INJECTION_RE = re.compile(
    r"(忽略|无视|忘记|忘掉|不要理会|跳过).{0,12}(指令|指示|提示|要求|规则|评分标准|上文|以上|之前)"
    r"|(给|打|判|评).{0,6}(满分|100\s*分|一百分)|满分|你现在是|系统提示|system\s*prompt"
    r"|ignore\s+(all\s+|any\s+|the\s+|previous\s+|above\s+|prior\s+)*(instructions|rules|prompts?)"
    r"|full\s+marks|score\s*(of\s*)?100|give\s+(me\s+)?(a\s+)?(perfect|full|100)",
    re.I,
)

_jieba_lock = threading.Lock()
_jieba_state: dict[str, object] = {}


def _jieba() -> tuple[object, dict[str, float], float]:
    """jieba and its IDF table, loaded once per process (about a second)."""
    if not _jieba_state:
        with _jieba_lock:
            if not _jieba_state:
                import jieba
                import jieba.analyse

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                tfidf = jieba.analyse.default_tfidf
                _jieba_state.update(jieba=jieba, idf=tfidf.idf_freq, median=tfidf.median_idf)
    return _jieba_state["jieba"], _jieba_state["idf"], _jieba_state["median"]  # type: ignore[return-value]


def words(text: str) -> list[str]:
    """Content words of ``text``: jieba's words, lower-cased, without stop words or punctuation."""
    jieba, _idf, _median = _jieba()
    result = []
    for chunk in _WORD_RE.findall(text.lower()):
        if chunk.isascii():
            result.append(chunk)
        else:
            result.extend(jieba.lcut(chunk))  # type: ignore[attr-defined]
    return [word for word in result if word.strip() and word not in _STOP_WORDS and not word.isdigit()]


def _weight(word: str) -> float:
    _jieba_module, idf, median = _jieba()
    value = idf.get(word, median)
    return max(0.05, min(value, median) / median)


def _compact(text: str) -> str:
    return "".join(_WORD_RE.findall(text.lower()))


@dataclass(frozen=True)
class _Text:
    """An answer (or a sentence of it), prepared for matching."""

    raw: str
    words: frozenset[str]
    compact: str

    @classmethod
    def of(cls, raw: str) -> _Text:
        return cls(raw=raw, words=frozenset(words(raw)), compact=_compact(raw))

    def has(self, word: str) -> bool:
        return word in self.words or (len(word) >= 2 and word in self.compact)


def _coverage(point_words: Iterable[str], text: _Text, question_words: frozenset[str]) -> float:
    total = matched = 0.0
    for word in dict.fromkeys(point_words):
        weight = _weight(word) * (QUESTION_WORD_WEIGHT if word in question_words else 1.0)
        total += weight
        if text.has(word):
            matched += weight
    return matched / total if total else 0.0


def _ramp(value: float, floor: float | None = None, full: float | None = None) -> float:
    """0 below ``floor``, 1 from ``full``, linear between."""
    floor = COVERAGE_FLOOR if floor is None else floor
    full = COVERAGE_FULL if full is None else full
    return min(1.0, max(0.0, (value - floor) / (full - floor)))


def _bigrams(text: str) -> set[str]:
    compact = _compact(text)
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def _bigram_recall(reference: str, answer: _Text) -> float:
    """Share of the reference's character bigrams the answer uses: robust to segmentation."""
    expected = _bigrams(reference)
    return len(expected & _bigrams(answer.compact)) / len(expected) if expected else 0.0


def _readings(point: str) -> list[list[str]]:
    """The point's words with and without its parenthesised parts (alternative spellings)."""
    full = words(point)
    bare = words(_PAREN_RE.sub(" ", point))
    return [reading for reading in (full, bare) if reading]


def _sentences(text: str) -> list[str]:
    return [match.group(0).strip() for match in _SENTENCE_RE.finditer(text) if match.group(0).strip()]


def _misconception_evidence(
    own: list[str], distinctive: list[str], negated: bool, sentences: list[_Text]
) -> str | None:
    """The first sentence stating the misconception, or None."""
    for sentence in sentences:
        sentence_negated = bool(_NEGATION_RE.search(sentence.raw))
        if distinctive:
            if sentence_negated and not negated:
                continue
            # Most of what sets the claim apart, and enough of the claim itself (one shared
            # distinctive word in a heading is not a claim).
            if (
                _coverage(distinctive, sentence, frozenset()) >= MISCONCEPTION_MATCH
                and _coverage(own, sentence, frozenset()) >= MISCONCEPTION_CLAIM_MATCH
            ):
                return sentence.raw
        elif own and negated == sentence_negated and _coverage(own, sentence, frozenset()) >= 0.9:
            # The claim differs from the reference only in wording, e.g. a dropped "不".
            return sentence.raw
    return None


class OfflineGrader:
    name = NAME
    model = MODEL

    def grade(self, request: GradingRequest) -> GradingResult:
        started = time.monotonic()
        sentences = _sentences(request.answer)
        injected = [sentence for sentence in sentences if _INJECTION_RE.search(sentence)]
        content = [sentence for sentence in sentences if sentence not in injected]
        empty = not words(" ".join(content))
        found, wrong = self._misconceptions(request, [_Text.of(sentence) for sentence in content])
        # A sentence stating a listed misconception earns no credit for the points it mentions.
        credited = [sentence for sentence in content if sentence not in wrong]
        answer = _Text.of("\n".join(credited))
        sentence_texts = [_Text.of(sentence) for sentence in credited]
        question_words = frozenset(words(request.question))

        results: list[KeyPointResult] = []
        credit = 0.0
        for point in request.key_points:
            readings = _readings(point) or [[]]
            coverage = max(_coverage(reading, answer, question_words) for reading in readings)
            credit += _ramp(coverage)
            covered = coverage >= COVERED_THRESHOLD
            evidence = ""
            if covered and sentence_texts:
                best = max(
                    sentence_texts,
                    key=lambda text: max(_coverage(reading, text, question_words) for reading in readings),
                )
                evidence = clip(best.raw, EVIDENCE_MAX_CHARS)
            results.append(KeyPointResult(point=point, covered=covered, evidence=evidence))

        points = credit / len(request.key_points) if request.key_points else 0.0
        overall = _ramp(_coverage(words(request.reference_answer), answer, question_words))
        coverage_score = (1 - REFERENCE_WEIGHT) * points + REFERENCE_WEIGHT * overall
        bigram_score = _ramp(_bigram_recall(request.reference_answer, answer), BIGRAM_FLOOR, BIGRAM_FULL)
        base = 100.0 * ((1 - BIGRAM_WEIGHT) * coverage_score + BIGRAM_WEIGHT * bigram_score)
        score = round(max(0.0, min(100.0, base - MISCONCEPTION_PENALTY * len(found))))
        feedback = self._feedback(score, results, found, injected=bool(injected), empty=empty)
        return GradingResult(
            score=score,
            key_points=tuple(results),
            misconceptions=tuple(found),
            feedback=feedback,
            grader=NAME,
            model=MODEL,
            prompt_version="",
            latency_ms=int((time.monotonic() - started) * 1000),
            raw_response="",
            extra={"coverage_credit": round(credit, 3), "injection_sentences": len(injected)},
        )

    @staticmethod
    def _misconceptions(request: GradingRequest, sentences: list[_Text]) -> tuple[list[MisconceptionFound], set[str]]:
        """The listed misconceptions the answer states, and the sentences stating them."""
        reference_words = set(words(request.reference_answer))
        for point in request.key_points:
            reference_words.update(words(point))
        found = []
        wrong: set[str] = set()
        for misconception in request.misconceptions:
            negated = bool(_NEGATION_RE.search(misconception))
            evidence = None
            for reading in _readings(misconception):
                own = list(dict.fromkeys(reading))
                distinctive = [word for word in own if word not in reference_words]
                evidence = _misconception_evidence(own, distinctive, negated, sentences)
                if evidence is not None:
                    break
            if evidence is not None:
                found.append(MisconceptionFound(misconception=misconception, evidence=clip(evidence, 300)))
                wrong.add(evidence)
        return found, wrong

    @staticmethod
    def _feedback(
        score: int, results: list[KeyPointResult], found: list[MisconceptionFound], *, injected: bool, empty: bool
    ) -> str:
        lines = [OFFLINE_NOTICE, f"得分 {score}/100。"]
        if empty:
            lines.append("回答中没有可评分的内容。")
        covered = [str(number) for number, result in enumerate(results, start=1) if result.covered]
        missed = [result.point for result in results if not result.covered]
        if covered:
            lines.append(f"已覆盖的要点：第 {'、'.join(covered)} 条。")
        if missed:
            lines.append("遗漏或表述不充分的要点：" + "；".join(f"「{clip(point, 80)}」" for point in missed) + "。")
        elif results:
            lines.append("所有评分要点都已覆盖。")
        for item in found:
            lines.append(f"回答包含常见错误：「{clip(item.misconception, 80)}」，请对照参考答案更正。")
        if injected:
            lines.append("回答中试图指示评分器的语句（如“忽略指令”“给满分”）不计入内容，也不影响评分规则。")
        return "\n".join(lines)
