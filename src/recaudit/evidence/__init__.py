"""The evidence engine behind `text_evidence` rules.

One module per concern:

- `matching`: lexicon terms (phrases, inflections, regexes) compiled into fast `re` unions;
- `pipeline`: the lazily built spaCy pipeline (`blank("en")` + sentencizer + our components);
- `context`: the ConText-style cue engine (cues, overlap resolution, scopes, modifiers);
- `attribution`: who a statement is about (child, another person, a professional);
- `engine`: evidence tiers applied to a record's notes, with findings and near misses.

Nothing here imports spaCy at module import time: only `pipeline.get_nlp()` does, when a
text rule first needs sentences.
"""
