"""One Aho-Corasick pass per note for every literal phrase of a pack.

A text rule asks many questions of the same note: does it hold a trigger, where are the
targets of each tier, the co-terms, the cues, the person words. Asked one `re` scan at a
time that is dozens of passes over every note (most of the rule-evaluation time). A
`Scanner` collects the literal phrase groups of every `TermPattern` built for a pack and
finds all their occurrences in one pass of Aho-Corasick automata (`ahocorasick_rs`, Rust:
several times fewer instructions per character than `pyahocorasick`, which it replaced);
each pattern then picks its own matches from that list with exactly the semantics of its
regex (see `TermPattern`): word boundaries, any run of whitespace between words, and
leftmost-longest non-overlapping selection within a window.

Regex terms are not literals and still run as regexes; a text whose lower-casing changes
its length (rare Unicode) is left to the regexes altogether (`hits` returns None).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

import ahocorasick_rs

CACHE_SIZE = 256
Bounds = Literal["phrase", "word_start", "anywhere"]
_OTHER_SPACE = re.compile(r"[^\S ]| \s")
# The ASCII characters `\s` matches besides the space (str.isspace: \t \n \v \f \r and the
# four separators \x1c-\x1f).
_ASCII_OTHER_SPACE = tuple(chr(c) for c in range(128) if chr(c).isspace() and c != 32)


def needs_squeezing(text: str) -> bool:
    """Does `text` hold whitespace other than single spaces (`_OTHER_SPACE`)? For ASCII
    text a few substring tests answer it several times faster than the regex."""
    if not text.isascii():
        return _OTHER_SPACE.search(text) is not None
    return "  " in text or any(ch in text for ch in _ASCII_OTHER_SPACE)


_SPACE_RUN = re.compile(r"\s+")


def is_word_char(ch: str) -> bool:
    """What `\\w` matches in a `str` pattern."""
    return ch.isalnum() or ch == "_"


_NO_ENTRIES: tuple[list[tuple[int, int, bool]], list[int]] = ([], [])


class NoteHits:
    """Every occurrence of every group in one text.

    Per group, entries are (start, -end, right boundary ok), sorted (by start, longest
    first) and indexed by start only when the group is first asked about: most groups of
    most notes are never asked.
    """

    __slots__ = ("_entries", "_indexed", "special")

    def __init__(self, entries: dict[int, list[tuple[int, int, bool]]], special: bool) -> None:
        self._entries = entries
        self._indexed: dict[int, tuple[list[tuple[int, int, bool]], list[int]]] = {}
        # Holds a character `re.IGNORECASE` equates beyond `str.lower`: prefilters are off.
        self.special = special

    def _group(self, gid: int) -> tuple[list[tuple[int, int, bool]], list[int]]:
        """The group's entries, sorted, and their starts (one lookup once indexed: this is
        asked a few hundred thousand times per million words)."""
        found = self._indexed.get(gid)
        if found is None:
            entries = self._entries.get(gid)
            if entries is None:
                return _NO_ENTRIES
            entries.sort()
            found = self._indexed[gid] = (entries, [e[0] for e in entries])
        return found

    def select(self, gid: int, pos: int, end: int) -> list[tuple[int, int]]:
        """What `re.finditer(text, pos, end)` of the group's trie regex returns: scanning
        left to right, the longest occurrence at the leftmost start, then on from its end.

        A window end acts as the end of the text, so a phrase ending there needs no word
        boundary after it (as with `re`'s `endpos`).
        """
        entries, starts = self._group(gid)
        out: list[tuple[int, int]] = []
        after = pos
        for i in range(bisect.bisect_left(starts, pos) if pos else 0, len(entries)):
            start, neg_stop, right_ok = entries[i]
            stop = -neg_stop
            if start >= end:
                break
            if start < after or stop > end or not (right_ok or stop == end):
                continue
            out.append((start, stop))
            after = stop
        return out

    def first(self, gid: int, pos: int, end: int) -> tuple[int, int] | None:
        """The first match `select` would return (what `re.search` finds)."""
        entries, starts = self._group(gid)
        for i in range(bisect.bisect_left(starts, pos) if pos else 0, len(entries)):
            start, neg_stop, right_ok = entries[i]
            stop = -neg_stop
            if start >= end:
                break
            if stop <= end and (right_ok or stop == end):
                return start, stop
        return None

    def starts_in(self, gid: int, pos: int, end: int) -> list[int]:
        """Start positions (ascending, distinct) of the group's strings inside [pos, end)."""
        entries, starts = self._group(gid)
        out: list[int] = []
        for i in range(bisect.bisect_left(starts, pos) if pos else 0, len(entries)):
            start, neg_stop, _ = entries[i]
            if start >= end:
                break
            if -neg_stop <= end and (not out or out[-1] != start):
                out.append(start)
        return out

    def groups(self) -> Iterable[int]:
        """The groups with at least one occurrence in the text."""
        return self._entries.keys()

    def has_any(self, gids: Iterable[int]) -> bool:
        """Does any string of any of these groups occur in the text at all?"""
        return not self._entries.keys().isdisjoint(gids)

    def occurs(self, gid: int, pos: int, end: int) -> bool:
        """Does a string of (prefilter) group `gid` occur inside [pos, end)?"""
        entries, starts = self._group(gid)
        for i in range(bisect.bisect_left(starts, pos) if pos else 0, len(entries)):
            if entries[i][0] >= end:
                return False
            if -entries[i][1] <= end:
                return True
        return False


class Scanner:
    """Phrase groups registered by `TermPattern`s, scanned together (see module doc)."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._groups: list[tuple[tuple[str, ...], bool, Bounds]] = []
        self._ids: dict[tuple[frozenset[str], bool, Bounds], int] = {}
        self._automata: tuple[_Automata, _Automata] | None = None
        self._cache: OrderedDict[str, NoteHits | None] = OrderedDict()
        self._cache_size = cache_size
        self._last: str | None = None
        self._last_hits: NoteHits | None = None

    def add_group(
        self, literals: Iterable[str], case_sensitive: bool, bounded: Bounds = "phrase"
    ) -> int:
        """Register phrases (words joined by one space; lower-cased unless
        `case_sensitive`) that one regex would match together; returns the group id.

        A "phrase" starting (ending) with a word character matches only where no word
        character precedes (follows) it; a "word_start" string only where none precedes
        it; an "anywhere" string wherever it occurs (regex prefilters and anchors, see
        `required_literals`, `anchors`).
        """
        strings = tuple(dict.fromkeys(literals))
        key = (frozenset(strings), case_sensitive, bounded)
        if key not in self._ids:
            self._ids[key] = len(self._groups)
            self._groups.append((strings, case_sensitive, bounded))
            self._automata = None  # rebuilt, with the cache, on the next scan
            self._cache.clear()
            self._last = self._last_hits = None
        return self._ids[key]

    def _build(self) -> tuple[_Automata, _Automata]:
        tables: tuple[dict[str, dict[Bounds, list[int]]], ...] = ({}, {})
        for gid, (strings, case_sensitive, bounded) in enumerate(self._groups):
            for string in strings:
                entry = tables[case_sensitive].setdefault(string, {})
                entry.setdefault(bounded, []).append(gid)
        return _automata(tables[0]), _automata(tables[1])

    def hits(self, text: str) -> NoteHits | None:
        """Occurrences of every group in `text` (cached for recent texts)."""
        # Most calls ask about the same note as the call before (dozens per sentence).
        if text is self._last:
            return self._last_hits
        if text in self._cache:
            self._cache.move_to_end(text)
            found = self._cache[text]
        else:
            if self._automata is None:
                self._automata = self._build()
            found = self._scan(text)
            self._cache[text] = found
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._last, self._last_hits = text, found
        return found

    def _passes(
        self, norm_low: str, norm_text: str, low: str, text: str
    ) -> list[tuple[Any, list[tuple[Any, ...]], str, str, bool]]:
        """(automaton, values by key, text it reads, text before squeezing, reads the
        boundary-marked text?) for each automaton there is."""
        assert self._automata is not None
        out = []
        for pair, norm, original in (
            (self._automata[0], norm_low, low),
            (self._automata[1], norm_text, text),
        ):
            for marked, built in ((True, pair[1]), (False, pair[0])):
                if built is not None:
                    out.append((built[0], built[1], norm, original, marked))
        return out

    def _scan(self, text: str) -> NoteHits | None:
        low = text.lower()
        if len(low) != len(text):
            return None
        shifts: list[int] = []
        breaks: list[int] = []
        if needs_squeezing(text):
            # Phrases match across any run of whitespace: scan a copy with each run
            # squeezed to one space, and map positions back.
            removed = 0
            for m in _SPACE_RUN.finditer(text):
                length = m.end() - m.start()
                if length > 1:
                    removed += length - 1
                    breaks.append(m.start() - removed + length - 1)
                    shifts.append(removed)
            norm_low = _SPACE_RUN.sub(" ", low)
            norm_text = _SPACE_RUN.sub(" ", text)
        else:
            norm_low, norm_text = low, text
        # Entries are (start, -end, right boundary ok): a plain sort orders them by start,
        # longest first. This loop runs for every occurrence: kept flat on purpose.
        found: defaultdict[int, list[tuple[int, int, bool]]] = defaultdict(list)
        n = len(text)
        for automaton, values, norm, original, marked in self._passes(
            norm_low, norm_text, low, text
        ):
            haystack = " " + _marked(norm) if marked else norm
            for key, start, stop in automaton.find_matches_as_indexes(haystack, overlapping=True):
                left, right, gids, starts, free, exact = values[key]
                if marked:
                    # The marked text opens with a space and each key with its lead: `start`
                    # is where the string starts in `norm`.
                    stop -= 1
                    if exact is not None and norm[start:stop] != exact:
                        continue
                if breaks:
                    k = bisect.bisect_right(breaks, start) - 1
                    if k >= 0:
                        start += shifts[k]
                    k = bisect.bisect_right(breaks, stop - 1) - 1
                    if k >= 0:
                        stop += shifts[k]
                for gid in free:
                    found[gid].append((start, -stop, True))
                if not gids and not starts:
                    continue
                if left and start:
                    ch = original[start - 1]
                    if ch.isalnum() or ch == "_":
                        continue
                for gid in starts:
                    found[gid].append((start, -stop, True))
                if not gids:
                    continue
                right_ok = True
                if right and stop < n:
                    ch = original[stop]
                    right_ok = not (ch.isalnum() or ch == "_")
                entry = (start, -stop, right_ok)
                for gid in gids:
                    found[gid].append(entry)
        return NoteHits(found, SPECIAL_CASE.search(text) is not None)


# -- the automata -------------------------------------------------------------------------
# (anywhere, at word starts): the second finds strings that need no word character before
# them (most phrases) only where a word starts. Most occurrences of short phrases are
# inside other words ("he" in "the", "to" in "told"), and each one found costs a step of
# the Python loop above just to be rejected.
_Automata = tuple[tuple[Any, list[tuple[Any, ...]]] | None, ...]
# In the text the word-start automaton reads, every character other than a word character
# or a space is this mark, and the text opens with a space; its keys are each string
# behind a space and behind the mark. A key then occurs exactly where its string starts
# after a non-word character or at the start of the text.
MARK = "\x01"
_NOT_WORD_OR_SPACE = re.compile(r"[^\w ]")
_ASCII_MARKS = bytes(
    1 if c < 128 and not (is_word_char(chr(c)) or c == 32) else c for c in range(256)
)


def _at_words(string: str, ids: dict[Bounds, list[int]]) -> bool:
    """Is every occurrence of `string` wanted only where a word starts?"""
    return is_word_char(string[0]) and "anywhere" not in ids


def _marked(text: str) -> str:
    """`text` with every character but word characters and spaces turned into `MARK` (same
    length): the word-start automaton reads a note so, after one leading space."""
    if text.isascii():
        # Several times faster than the regex, and the same for ASCII text.
        return text.encode("ascii").translate(_ASCII_MARKS).decode("ascii")
    return _NOT_WORD_OR_SPACE.sub(MARK, text)


def _automata(table: dict[str, dict[Bounds, list[int]]]) -> _Automata:
    anywhere: dict[str, tuple[Any, ...]] = {}
    at_words: dict[str, tuple[Any, ...]] = {}
    marks = {s: _marked(s) for s, ids in table.items() if _at_words(s, ids)}
    # Strings that differ only in non-word characters ("carer's", "carer’s") share a key:
    # those few are found anywhere, as before.
    keys = Counter(marks.values())
    for string, ids in table.items():
        left = is_word_char(string[0])
        right = is_word_char(string[-1])
        phrase = tuple(ids.get("phrase", ()))
        word_start = tuple(ids.get("word_start", ()))
        marked = marks.get(string)
        if marked is not None and keys[marked] == 1:
            # A key matches any non-word character where the string has one other than a
            # space ("step-dad" at "step/dad"): such a string is checked where found.
            exact = None if marked == string else string
            # `left` is False: the key's lead already saw the word start.
            value = (False, right, phrase, word_start, (), exact)
            at_words[" " + marked] = at_words[MARK + marked] = value
        else:
            free = tuple(ids.get("anywhere", ()))
            anywhere[string] = (left, right, phrase, word_start, free, None)
    return _automaton(anywhere), _automaton(at_words)


def _automaton(values: dict[str, tuple[Any, ...]]) -> tuple[Any, list[tuple[Any, ...]]] | None:
    """An automaton reporting every occurrence of every key (overlapping ones too), with
    the value of each key by its index."""
    if not values:
        return None
    keys = list(values)
    return ahocorasick_rs.AhoCorasick(keys), [values[k] for k in keys]


def may_match(hits: NoteHits, gid: int | None, pos: int, end: int) -> bool:
    """Can a regex with prefilter group `gid` match in [pos, end)? (True if unknown.)"""
    return gid is None or hits.special or hits.occurs(gid, pos, end)


class Span:
    """A match found by the scanner, with the parts of `re.Match` the engine reads."""

    __slots__ = ("_end", "_start", "string")

    def __init__(self, string: str, start: int, end: int) -> None:
        self.string = string
        self._start = start
        self._end = end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end

    def span(self) -> tuple[int, int]:
        return self._start, self._end

    def group(self, index: int = 0) -> str:
        if index:
            raise IndexError("a phrase match has no groups")
        return self.string[self._start : self._end]


def select(hits: NoteHits, gids: Sequence[int], pos: int, end: int) -> list[tuple[int, int]]:
    """Each group's selection in [pos, end), concatenated (unsorted)."""
    out: list[tuple[int, int]] = []
    for gid in gids:
        out += hits.select(gid, pos, end)
    return out


# -- regex prefilters ---------------------------------------------------------------------
MIN_LITERAL = 2


def required_literals(source: str, case_sensitive: bool) -> tuple[str, ...] | None:
    """Strings one of which every match of the regex contains (lower-cased unless
    `case_sensitive`), or None when no useful set is found.

    Read from the parsed regex (the standard library's `re._parser`, the only parser of
    Python's own syntax: a private module, so any surprise just means "no prefilter"):
    the longest literal run on the regex's mandatory path, or one per branch of a
    mandatory alternation. Zero-width assertions end a run; only a lookahead is read
    from (what it sees lies inside the searched window too).
    """
    try:
        import re._parser as sre_parse

        parsed = sre_parse.parse(source, 0 if case_sensitive else re.IGNORECASE)
        found = _sequence_literals(list(parsed), sre_parse)
    except Exception:
        return None
    if not found:
        return None
    out = tuple(sorted({s if case_sensitive else s.lower() for s in found}))
    # One letter occurs everywhere; one punctuation mark ("?", "_") is worth a look.
    if any(len(s) < MIN_LITERAL and s.isalnum() for s in out) or not _scannable(out):
        return None
    return out


def _scannable(strings: Iterable[str]) -> bool:
    """Can the scanner find these strings exactly? It reads text with whitespace runs
    squeezed to one space (see `Scanner._scan`) and lower-cased by `str.lower`, so no other
    whitespace, no run of spaces, and no character `re.IGNORECASE` equates otherwise."""
    return all(
        s
        and "  " not in s
        and s == s.strip()
        and not any((ch.isspace() and ch != " ") or SPECIAL_CASE.match(ch) for ch in s)
        for s in strings
    )


class Anchors(NamedTuple):
    heads: tuple[str, ...]  # every match starts with one of these
    word_start: bool  # ... where no word character precedes it


def anchors(source: str, case_sensitive: bool) -> Anchors | None:
    """The strings every match of the regex *starts* with (after zero-width assertions),
    lower-cased unless `case_sensitive`, and whether every match starts a word (`\\b`
    before heads that start with a word character); None if they are not that simple.

    Such a regex need only be tried (`match`) where one of them occurs: `\\bChild\\s+[A-Z]`
    at each "Child" that starts a word, instead of a search through the whole note.
    """
    try:
        import re._parser as sre

        parsed = sre.parse(source, 0 if case_sensitive else re.IGNORECASE)
        if parsed.getwidth()[0] == 0:
            return None  # a regex that can match nothing is not anchored anywhere
        items = list(parsed)
        boundary = False
        while items and items[0][0] in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            boundary = boundary or items[0] == (sre.AT, sre.AT_BOUNDARY)
            items = items[1:]
        if not items:
            return None
        heads, _ = _heads(items, sre)
    except Exception:
        return None
    out = _head_strings(heads, case_sensitive)
    if out is None:
        return None
    # A lone lower-case letter starts too many words to be worth trying at each one.
    if any(len(h) == 1 and h.isalnum() and not (case_sensitive and h.isupper()) for h in out):
        return None
    return Anchors(out, boundary and all(is_word_char(h[0]) for h in out))


MAX_TAIL_WIDTH = 16  # a match this short is tried at the few places before each tail


class Tail(NamedTuple):
    """A regex whose every match is followed (inside a lookahead) by one of `heads`, after
    a whitespace run of at least `space` characters (None: directly), and is `width[0]`
    to `width[1]` characters long: initials before a reporting verb ("KT said")."""

    heads: tuple[str, ...]
    width: tuple[int, int]
    space: int | None

    def starts(self, hits: NoteHits, gid: int, text: str, pos: int, end: int) -> list[int]:
        """Where a match may start in [pos, end): the few positions that end a match
        right before an occurrence of a head (group `gid`); ascending, distinct."""
        low, high = self.width
        out: set[int] = set()
        for at in hits.starts_in(gid, pos, end):
            first_end = last_end = at
            if self.space is not None:
                while first_end > 0 and text[first_end - 1].isspace():
                    first_end -= 1
                last_end = at - self.space
                if last_end < first_end:
                    continue
            out.update(range(max(pos, first_end - high), last_end - low + 1))
        return sorted(out)


def tail_anchors(source: str, case_sensitive: bool) -> Tail | None:
    """The `Tail` of a regex `X(?=\\s+HEADS…)` whose part X (after any zero-width
    assertions) has a small bounded width; None for any other shape.

    Such a regex need only be tried a few characters before each occurrence of its heads,
    where a search would try it at every position of the note.
    """
    try:
        import re._parser as sre

        parsed = sre.parse(source, 0 if case_sensitive else re.IGNORECASE)
        items = list(parsed)
        while items and items[0][0] in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            items = items[1:]
        if len(items) < 2 or items[-1][0] is not sre.ASSERT or items[-1][1][0] != 1:
            return None
        low, high = sre.SubPattern(parsed.state, items[:-1]).getwidth()
        if low < 1 or high > MAX_TAIL_WIDTH:
            return None
        ahead = list(items[-1][1][1])
        space = None
        if ahead and _is_space_run(*ahead[0], sre, least=0):
            space, ahead = ahead[0][1][0], ahead[1:]
        heads, _ = _heads(ahead, sre)
    except Exception:
        return None
    out = _head_strings(heads, case_sensitive)
    if out is None or any(len(h) < MIN_LITERAL for h in out):
        return None
    return Tail(out, (low, high), space)


def starts_after_non_word(source: str, case_sensitive: bool) -> bool:
    """Can the regex only match where no word character precedes (a `\\b` before a word
    character, or a lookbehind refusing `\\w`)? Then `(?<!\\w)` in front of it changes
    nothing, and lets `re` reject most positions in one step."""
    try:
        import re._parser as sre

        items = list(sre.parse(source, 0 if case_sensitive else re.IGNORECASE))
    except Exception:
        return False
    boundary = False
    for op, av in items:
        if op is sre.ASSERT_NOT and av[0] == -1 and len(av[1]) == 1:
            kind, value = av[1][0]
            if kind is sre.IN and (sre.CATEGORY, sre.CATEGORY_WORD) in value:
                return True
        elif (op, av) == (sre.AT, sre.AT_BOUNDARY):
            boundary = True
        elif op not in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return boundary and _word_chars_only(op, av, sre)
    return False


def _word_chars_only(op: Any, av: Any, sre: Any) -> bool:
    """Does this first consuming item match word characters only?"""
    if op is sre.LITERAL:
        return is_word_char(chr(av))
    if op is sre.BRANCH:
        return all(len(alt) and _word_chars_only(*alt[0], sre) for alt in av[1])
    if op is sre.IN:
        return all(
            (kind is sre.LITERAL and is_word_char(chr(value)))
            or (
                kind is sre.RANGE
                and all(is_word_char(chr(c)) for c in range(value[0], value[1] + 1))
            )
            or (kind is sre.CATEGORY and value in (sre.CATEGORY_WORD, sre.CATEGORY_DIGIT))
            for kind, value in av
        )
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
        sub = list(av[2])
        return bool(sub) and _word_chars_only(*sub[0], sre)
    return False


MAX_HEADS = 64


def _heads(items: list[Any], sre: Any) -> tuple[list[str], bool]:
    """The strings every match of the sequence starts with, and whether they spell out the
    whole sequence (so that what follows it can extend them).

    Literals extend every head; a branch multiplies them by its alternatives' heads ("to"
    + "make|offer"); a whitespace run (`\\s+`) becomes one space, since the scanner reads
    text with whitespace runs squeezed to one space ("to\\s+(?:make|offer)" is tried only at
    "to make" and "to offer", not at every "to").
    """
    heads = [""]
    space = False  # a whitespace run seen, to be spelt only if more text follows
    for op, av in items:
        if op is sre.LITERAL:
            heads = [h + (" " if space else "") + chr(av) for h in heads]
            space = False
        elif op is sre.BRANCH:
            tails: list[str] = []
            complete = True
            for alt in av[1]:
                found, whole = _heads(list(alt), sre)
                if not all(found):
                    return heads, False
                tails += found
                complete = complete and whole
            if len(heads) * len(tails) > MAX_HEADS:
                return heads, False
            sep = " " if space else ""
            heads = [h + sep + t for h in heads for t in tails]
            space = False
            if not complete:
                return heads, False
        elif _is_space_run(op, av, sre) and all(heads):
            space = True
        elif (chars := _leading_class(op, av, sre)) and len(heads) * len(chars) <= MAX_HEADS:
            # A small class spelt out ("C[0-9]{1,2}" → C0 … C9: far rarer than "C"); what
            # follows a repeat varies, so the heads end there.
            sep = " " if space else ""
            heads = [h + sep + c for h in heads for c in chars]
            space = False
            if op is not sre.IN:
                return heads, False
        else:
            return heads, False
    return heads, not space


def _repeated(op: Any, av: Any, sre: Any, least: int = 1) -> Any:
    """The one item a repeat (of at least `least` times) repeats; None for anything else."""
    if op not in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) or av[0] < least:
        return None
    sub = list(av[2])
    return sub[0] if len(sub) == 1 else None


def _leading_class(op: Any, av: Any, sre: Any) -> list[str] | None:
    """The characters a small class matches, alone or as the first of a repeat of it."""
    op, av = _repeated(op, av, sre) or (op, av)
    return _class_chars(op, av, sre) if op is sre.IN else None


def _head_strings(heads: list[str], case_sensitive: bool) -> tuple[str, ...] | None:
    """Heads as the scanner registers them (lower-cased unless case-sensitive, sorted,
    once each), or None when one is empty or the scanner cannot find them exactly."""
    if not heads or not all(heads):
        return None
    out = tuple(sorted({h if case_sensitive else h.lower() for h in heads}))
    return out if _scannable(out) else None


def _is_space_run(op: Any, av: Any, sre: Any, least: int = 1) -> bool:
    """Is this item a whitespace run (`\\s+`; `\\s*` with `least` 0)? Its upper bound
    does not matter: anchors and tails only narrow where a regex is tried."""
    return _repeated(op, av, sre, least) == (sre.IN, [(sre.CATEGORY, sre.CATEGORY_SPACE)])


MAX_CLASS = 10  # a character class this small is spelled out ("C[0-9]" → C0 … C9)


def _class_chars(op: Any, av: Any, sre: Any) -> list[str] | None:
    """The characters a one-character item matches, if it is a literal or a small class."""
    if op is sre.LITERAL:
        return [chr(av)]
    if op is not sre.IN:
        return None
    chars: list[str] = []
    for kind, value in av:
        if kind is sre.LITERAL:
            chars.append(chr(value))
        elif kind is sre.RANGE and value[1] - value[0] < MAX_CLASS:
            chars += [chr(c) for c in range(value[0], value[1] + 1)]
        else:
            return None  # negation, categories (\d is every Unicode digit), big ranges
    return chars if len(chars) <= MAX_CLASS else None


def _selectivity(found: tuple[str, ...]) -> tuple[int, bool, int]:
    # Longer strings are rarer; among one-character ones a mark ("/") beats a letter; and
    # fewer strings occur less often than more of the same length.
    shortest = min(found, key=len)
    return len(shortest), not shortest.isalnum(), -len(found)


def _plain_runs(items: list[Any], sre: Any) -> set[str]:
    """The runs of plain literals of a sequence (each one is in every match of it)."""
    runs, run = set(), ""
    for op, av in items:
        if op is sre.LITERAL:
            run += chr(av)
            continue
        if run:
            runs.add(run)
        run = ""
    return runs | ({run} if run else set())


def _sequence_literals(items: list[Any], sre: Any) -> tuple[str, ...] | None:
    """The best required-literal set of a sequence: the longest run of literals (small
    classes spelled out), else a branch set, whichever has the longest shortest member."""
    best: tuple[str, ...] | None = None
    run: list[str] = [""]

    def consider(found: tuple[str, ...] | None) -> None:
        nonlocal best
        if found and (best is None or _selectivity(found) > _selectivity(best)):
            best = found

    def extend(chars: list[str]) -> bool:
        nonlocal run
        if len(run) * len(chars) > 4 * MAX_CLASS:
            return False
        run = [r + c for r in run for c in chars]
        return True

    def close() -> None:
        nonlocal run
        if run != [""]:
            consider(tuple(run))
        run = [""]

    for op, av in items:
        chars = _class_chars(op, av, sre)
        if chars is not None and extend(chars):
            continue
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, _high, sub = av
            sub = list(sub)
            one = _class_chars(*sub[0], sre) if len(sub) == 1 else None
            # The first `low` repetitions are required ("_{2,}" → "__"); what follows varies.
            if low >= 1 and one is not None and all(extend(one) for _ in range(min(low, 4))):
                close()
                continue
            close()
            if low >= 1:
                consider(_sequence_literals(sub, sre))
            continue
        close()
        if op is sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if not add_flags and not del_flags:
                consider(_sequence_literals(list(sub), sre))
        elif op is sre.BRANCH:
            parts = [_sequence_literals(list(alt), sre) for alt in av[1]]
            if parts and all(parts):
                consider(tuple(s for part in parts if part for s in part))
            # A string every alternative holds ("/" in "y\s*/\s*n|yes\s*/\s*no") is
            # one string to look for instead of one per alternative.
            common = set.intersection(*(_plain_runs(list(alt), sre) for alt in av[1]))
            if common:
                consider((max(sorted(common), key=len),))
        elif op is sre.ASSERT and av[0] == 1:
            # A lookahead's text lies inside the window too (`re` never looks past endpos).
            consider(_sequence_literals(list(av[1]), sre))
    close()
    return best


# Characters that `re.IGNORECASE` equates with others beyond what `str.lower` does
# ("ſ" matches "s", "ı" matches "i"): the non-ASCII ones. A text holding one skips the
# literal prefilters, and a required literal holding one is not used (ASCII letters are
# safe on both sides: their partners are the non-ASCII ones).
def _special_case_chars() -> str:
    try:
        import re._casefix as casefix

        codes = set(casefix._EXTRA_CASES) | {c for v in casefix._EXTRA_CASES.values() for c in v}
    except Exception:
        return ""
    return "".join(chr(c) for c in sorted(codes) if c > 127)


SPECIAL_CHARS = _special_case_chars()
# Without the table, any non-ASCII character counts as special.
SPECIAL_CASE = re.compile(f"[{re.escape(SPECIAL_CHARS)}]" if SPECIAL_CHARS else r"[^\x00-\x7f]")
