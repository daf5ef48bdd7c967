"""Search that works on Chinese text, on SQLite and PostgreSQL alike.

Chinese has no spaces between words, so a plain word index finds nothing and a bare
substring match misses queries of several words ("复读机 原因"). Each question keeps a
``search_document``: its title, English title, tags and published answer, lower-cased,
with the Chinese segmented by jieba (search mode, which also emits the shorter words
inside long ones). A query is segmented the same way; a question matches when every
query term occurs in its document as a substring. Substring matching on the segmented
document means a term finds itself whether or not jieba split the document the same way,
and Latin text is matched case-insensitively. The bank holds hundreds of questions, so a
scan over one text column is fast enough on both databases; see the README's design notes.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

_jieba_lock = threading.Lock()
_jieba = None

# Words that carry no meaning for search (question words, particles).
_STOP_WORDS = frozenset(
    "的 了 是 在 和 与 及 或 吗 呢 啊 吧 么 什么 怎么 如何 为什么 哪些 有 有哪些 一个 这个 那个 "
    "and or the a an of to in is are what how why".split()
)
_TOKEN_RE = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)


def _segmenter():
    """jieba, initialised once per process (loading its dictionary takes about a second)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def segment(text: str) -> list[str]:
    """Lower-cased search terms of ``text``: jieba's search-mode words, stop words removed."""
    words = []
    for chunk in _TOKEN_RE.findall(text.lower()):
        if chunk.isascii():
            words.append(chunk)
            continue
        words.extend(word for word in _segmenter().cut_for_search(chunk) if word.strip())
    return [word for word in words if word not in _STOP_WORDS]


def search_document_build(*, parts: Iterable[str]) -> str:
    """The text stored in ``Question.search_document`` for the given parts."""
    text = "\n".join(part for part in parts if part)
    return " ".join(segment(text)) + "\n" + text.lower()


def query_terms(query: str) -> list[str]:
    """Terms a question must all contain. Short queries keep their raw form as one term."""
    query = query.strip().lower()
    if not query:
        return []
    terms = []
    for chunk in _TOKEN_RE.findall(query):
        if chunk.isascii() or len(chunk) <= 4:
            # A short Chinese query ("复读机", "显存") is matched as it is: a substring match
            # on the document cannot miss it, whatever the segmentation.
            terms.append(chunk)
        else:
            terms.extend(word for word in _segmenter().cut(chunk) if word not in _STOP_WORDS and word.strip())
    return list(dict.fromkeys(terms))


def question_search_filter(queryset: QuerySet, query: str, *, field: str = "search_document") -> QuerySet:
    terms = query_terms(query)
    if not terms:
        return queryset
    condition = Q()
    for term in terms:
        condition &= Q(**{f"{field}__icontains": term})
    return queryset.filter(condition)


def question_search_ranked(queryset: QuerySet, query: str) -> QuerySet:
    """Filter by ``query`` and annotate ``search_rank``: terms found in the title weigh more.

    A search for "SFT" matches every answer that mentions SFT; the questions *about* SFT
    (the term in their title) come first.
    """
    terms = query_terms(query)
    queryset = question_search_filter(queryset, query)
    if not terms:
        return queryset.annotate(search_rank=Value(0, output_field=IntegerField()))
    rank = Value(0, output_field=IntegerField())
    for term in terms:
        rank = rank + Case(
            When(Q(title__icontains=term) | Q(title_en__icontains=term), then=Value(10)),
            default=Value(1),
            output_field=IntegerField(),
        )
    return queryset.annotate(search_rank=rank)
