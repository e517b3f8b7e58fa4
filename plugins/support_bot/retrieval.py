"""Knowledge-base retrieval: BM25 over analysed terms, with a confidence in [0, 1].

Each entry is indexed as several *phrasings* (its question, each alternative
question, its keywords) plus, with a lower weight, its answer. An entry's score
is its best phrasing's BM25 score plus ``answer_weight`` times its answer's.

BM25 ranks but its scores are unbounded and depend on the collection, so they
cannot be compared with a threshold. The confidence of a candidate is instead
an idf-weighted overlap between the query and the candidate's best phrasing:

    recall    = weight of query terms found in the phrasing / weight of all query terms
    precision = weight of phrasing terms found in the query / weight of all phrasing terms
    confidence = F-beta(recall, precision), beta = 2 (what the customer asked matters most)

Query terms the knowledge base has never seen weigh like the rarest terms: a
question about something the knowledge base does not cover gets a low
confidence even when a few of its words match.

Speed: postings hold one precomputed BM25 contribution per (term, entry)
(idf and length normalisation folded in) and are merged with dict operations
that run in C; a term found in many entries only refines the candidates that
share a more selective term with the question. Edits change the analysed
entries; searches run on an immutable snapshot that is rebuilt afterwards (see
:class:`Index`), so a rebuild can run in a worker thread.
"""

from __future__ import annotations

import heapq
import math
from operator import add
from dataclasses import dataclass, field
from typing import Iterable

from .analysis import is_cjk, terms as analyse


def _add_into(target: dict[int, float], other: dict[int, float], keys: set[int]) -> None:
    """target[k] += other[k] for k in keys, iterated in C (map/zip/update): no bytecode per entry."""
    if keys:
        target.update(zip(keys, map(add, map(target.__getitem__, keys), map(other.__getitem__, keys))))


@dataclass(frozen=True)
class Entry:
    """A question/answer pair of one queue's knowledge base."""

    id: str
    queue: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    lang: str = ""          #: "en", "zh" or "" (any)

    def phrasings(self) -> list[str]:
        found = [self.question, *self.alternatives]
        if self.keywords:
            found.append(" ".join(self.keywords))
        return [p for p in found if p.strip()]


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float            #: BM25 (for ranking only)
    confidence: float       #: 0..1, comparable with thresholds
    phrasing: str           #: the phrasing that matched best


@dataclass
class _Doc:
    terms: dict[str, int]   #: term -> frequency
    length: int
    is_answer: bool
    text: str


@dataclass
class _Analysed:
    """An entry cut into terms: what edits change. Never modified once made."""

    entry: Entry
    docs: list[_Doc] = field(default_factory=list)


@dataclass
class _Snapshot:
    """The searchable state built from a set of analysed entries. Never modified once made."""

    order: list[_Analysed] = field(default_factory=list)
    phrasing_weights: list[list[tuple[_Doc, float]]] = field(default_factory=list)  #: per entry: (doc, sum of idf)
    postings: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    maps: dict[str, dict[int, float]] = field(default_factory=dict)
    tops: dict[str, list[int]] = field(default_factory=dict)  #: common term -> its best entries, best first
    common: int = 0
    idf: dict[str, float] = field(default_factory=dict)
    unknown_idf: float = 0.0


class Index:
    """The BM25 index of one knowledge base (one queue).

    Edits change the analysed entries; searches run on an immutable snapshot.
    With ``auto_build`` the snapshot is rebuilt by the first search after an
    edit; without it the owner builds one (e.g. in a worker thread with
    :meth:`make_snapshot`) and installs it, and searches meanwhile use the
    previous one.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, answer_weight: float = 0.3, beta: float = 2.0,
                 auto_build: bool = True) -> None:
        self.k1 = k1
        self.b = b
        self.answer_weight = answer_weight
        self.beta2 = beta * beta
        self.auto_build = auto_build
        #: A term in more than this share of the entries (and more than common_floor) is common.
        self.common_fraction = 0.02
        self.common_floor = 50
        #: A question with only common terms starts from this many best entries of the rarest one.
        self.common_seed = 200
        self._entries: dict[str, _Analysed] = {}
        self._dirty = True
        self._snap = _Snapshot()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self._entries

    def entries(self) -> list[Entry]:
        return [a.entry for a in list(self._entries.values())]

    def get(self, entry_id: str) -> Entry | None:
        found = self._entries.get(entry_id)
        return found.entry if found else None

    @property
    def dirty(self) -> bool:
        return self._dirty

    # -- editing ------------------------------------------------------------
    def analyse(self, entry: Entry) -> _Analysed:
        """Cut an entry into terms (pure: may run in a worker thread)."""
        analysed = _Analysed(entry)
        for phrasing in entry.phrasings():
            self._add_doc(analysed, phrasing, is_answer=False)
        if self.answer_weight > 0:
            self._add_doc(analysed, entry.answer, is_answer=True)
        return analysed

    def put(self, entry: Entry) -> None:
        """Add or replace an entry."""
        self.put_analysed([self.analyse(entry)])

    def put_many(self, entries: Iterable[Entry]) -> None:
        self.put_analysed([self.analyse(entry) for entry in entries])

    def put_analysed(self, analysed: Iterable[_Analysed]) -> None:
        for item in analysed:
            self._entries[item.entry.id] = item
        self._dirty = True

    def remove(self, entry_id: str) -> bool:
        if self._entries.pop(entry_id, None) is None:
            return False
        self._dirty = True
        return True

    def clear(self) -> None:
        self._entries.clear()
        self._dirty = True

    @staticmethod
    def _add_doc(analysed: _Analysed, text: str, is_answer: bool) -> None:
        found = analyse(text)
        if not found:
            return
        counts: dict[str, int] = {}
        for term in found:
            counts[term] = counts.get(term, 0) + 1
        analysed.docs.append(_Doc(counts, len(found), is_answer, text))

    # -- building -----------------------------------------------------------
    def build(self) -> None:
        """Rebuild the snapshot now, in this thread."""
        self.install(self.make_snapshot(self.contents()))

    def contents(self) -> list[_Analysed]:
        """What a snapshot is made of (take it in the event loop, build from it anywhere)."""
        self._dirty = False
        return list(self._entries.values())

    def install(self, snapshot: _Snapshot) -> None:
        self._snap = snapshot

    def make_snapshot(self, analysed: list[_Analysed]) -> _Snapshot:
        """Build a searchable snapshot (pure: reads only its argument, so it may run in a worker thread)."""
        phrasings = [d for a in analysed for d in a.docs if not d.is_answer]
        answers = [d for a in analysed for d in a.docs if d.is_answer]
        idf = self._idf_of(phrasings)
        answer_idf = self._idf_of(answers)
        n = max(1, len(phrasings))
        avgdl = sum(d.length for d in phrasings) / n
        answer_avgdl = sum(d.length for d in answers) / max(1, len(answers))
        k1, b = self.k1, self.b
        # One posting per (term, entry): the entry's best phrasing weight for the
        # term plus the weighted answer weight. Ranking by the sum of these
        # bounds an entry's best phrasing score from above; the confidence is
        # then computed on real phrasings for the few best entries only.
        postings: dict[str, tuple[list[int], list[float]]] = {}
        phrasing_weights: list[list[tuple[_Doc, float]]] = []
        for number, a in enumerate(analysed):
            weights: dict[str, float] = {}    # best phrasing weight per term
            answer: dict[str, float] = {}
            for d in a.docs:
                if d.is_answer:
                    factor, table, average, target = self.answer_weight, answer_idf, answer_avgdl, answer
                else:
                    factor, table, average, target = 1.0, idf, avgdl, weights
                norm = k1 * (1 - b + b * d.length / average)
                for term, tf in d.terms.items():
                    weight = factor * table[term] * tf * (k1 + 1) / (tf + norm)
                    if weight > target.get(term, 0.0):
                        target[term] = weight
            for term, weight in answer.items():
                weights[term] = weights.get(term, 0.0) + weight
            for term, weight in weights.items():
                ids, values = postings.setdefault(term, ([], []))
                ids.append(number)
                values.append(weight)
            phrasing_weights.append([(d, sum(idf[t] for t in d.terms)) for d in a.docs if not d.is_answer])
        # Common terms also get a map, to refine existing candidates without
        # walking their whole posting list.
        common = max(self.common_floor, int(len(analysed) * self.common_fraction))
        maps = {t: dict(zip(ids, values)) for t, (ids, values) in postings.items() if len(ids) > common}
        tops = {t: sorted(m, key=m.__getitem__, reverse=True)[:self.common_seed] for t, m in maps.items()}
        return _Snapshot(order=analysed, phrasing_weights=phrasing_weights, postings=postings, maps=maps,
                         tops=tops, common=common, idf=idf, unknown_idf=math.log(1 + (n + 0.5) / 0.5))

    @staticmethod
    def _idf_of(docs: list[_Doc]) -> dict[str, float]:
        n = len(docs)
        df: dict[str, int] = {}
        for d in docs:
            for term in d.terms:
                df[term] = df.get(term, 0) + 1
        return {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def _current(self) -> _Snapshot:
        if self._dirty and self.auto_build:
            self.build()
        return self._snap

    # -- searching ----------------------------------------------------------
    def search(self, text: str, limit: int = 3, candidates: int = 10) -> list[Hit]:
        """The best entries for ``text``, highest confidence first (BM25 breaks ties)."""
        snap = self._current()
        query = set(analyse(text))
        if not query or not snap.order:
            return []
        postings = snap.postings
        found = sorted((len(postings[t][0]), t) for t in query if t in postings)
        if not found:
            return []
        scores: dict[int, float] = {}
        for df, term in found:
            refine = snap.maps.get(term) if scores and df > snap.common else None
            if refine is not None:
                # A common term only adds to entries that share a selective
                # term with the question: alone it cannot make an entry relevant.
                _add_into(scores, refine, scores.keys() & refine.keys())
                continue
            if not scores and df > snap.common:
                # No selective term at all: the rarest common term's best
                # entries are the candidates (bounded work for vague questions).
                top, weights = snap.tops[term], snap.maps[term]
                scores = dict(zip(top, map(weights.__getitem__, top)))
                continue
            added = dict(zip(*postings[term]))
            if scores:
                _add_into(added, scores, scores.keys() & added.keys())
                scores.update(added)
            else:
                scores = added
        # Select on bare floats (compared in C): equal scores, common in a
        # templated knowledge base, would make tuple comparisons the hot spot.
        floor = heapq.nlargest(candidates, scores.values())[-1]
        best = [(number, score) for number, score in scores.items() if score >= floor]
        if len(best) > candidates:
            best.sort(key=lambda item: -item[1])
            del best[candidates:]
        query_weight = sum(self._query_weight(snap, t) for t in query)
        hits = []
        for number, score in best:
            confidence, phrasing = self._confidence(snap, query, query_weight, number)
            hits.append(Hit(snap.order[number].entry, score, confidence, phrasing))
        hits.sort(key=lambda h: (-h.confidence, -h.score))
        return hits[:limit]

    @staticmethod
    def _query_weight(snap: _Snapshot, term: str) -> float:
        found = snap.idf.get(term)
        if found is not None:
            return found
        # An unseen CJK bigram is usually two words meeting (修改密码 -> 改密); its
        # characters already say whether the knowledge base covers the topic.
        if len(term) == 2 and is_cjk(term):
            return 0.0
        return snap.unknown_idf

    def _confidence(self, snap: _Snapshot, query: set[str], query_weight: float, number: int) -> tuple[float, str]:
        idf = snap.idf
        best, best_text = 0.0, ""
        if query_weight <= 0:
            return best, best_text
        for doc, doc_weight in snap.phrasing_weights[number]:
            if doc_weight <= 0:
                continue
            shared_terms = query & doc.terms.keys()
            if not shared_terms:
                continue
            shared = sum(idf[t] for t in shared_terms)
            recall = shared / query_weight
            precision = shared / doc_weight
            f = (1 + self.beta2) * precision * recall / (self.beta2 * precision + recall)
            if f > best:
                best, best_text = f, doc.text
        return min(1.0, best), best_text
