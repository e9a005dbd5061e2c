"""The three text rules of the default pack, through the real pack and real spaCy."""

from __future__ import annotations

import pytest
from textrule_helpers import run

ADVOCACY = "advocacy-active-offer"
VOICE = "voice-of-child"
CARERS = "carers-assessment-offer"

# Issue 3, acceptance 1: each sentence alone in an advocacy-applicable record.
ACCEPTANCE = [
    ("Advocacy was not offered.", "not_met", "negated"),
    ("Child A declined advocacy.", "met", "declined"),
    ("I will offer advocacy at the next visit.", "not_met", "planned"),
    ("Mum was offered an advocate for the conference.", "not_met", "other_person"),
    ("He does not have any help at home and was offered advocacy.", "met", None),
    ("Worker could not contact family; advocacy offered by phone.", "met", None),
    ("Active offer of advocacy made? Y / N", "not_met", "template"),
]


@pytest.mark.parametrize(("sentence", "outcome", "category"), ACCEPTANCE)
def test_issue_acceptance_sentences(sentence: str, outcome: str, category: str | None) -> None:
    res = run(ADVOCACY, sentence)
    assert res.outcome == outcome, res.reason
    if category is not None:
        assert category in {c.category for c in res.cues}, res.cues
    if outcome == "not_met" and category is not None:
        assert category.replace("_", " ") in res.reason
    if outcome == "met":
        ev = res.evidence[0]
        assert sentence[ev.start : ev.end] == ev.text
        assert ev.sentence is not None and ev.text in ev.sentence
        assert "advoca" in ev.text.lower()


def test_declined_offer_reason_names_the_cue() -> None:
    res = run(ADVOCACY, "Child A declined advocacy.")
    assert "declined" in res.reason


def test_negated_reason_quotes_the_cue() -> None:
    res = run(ADVOCACY, "Advocacy was not discussed.")
    assert res.outcome == "not_met"
    assert "negated by 'not'" in res.reason and "N1" in res.reason


@pytest.mark.parametrize(
    "text",
    [
        "AO made to YP today; she declined.",
        "Explained advocasy to CYP and a referral was sent to NYAS.",
        "Active offer of advocacy made? Yes - made in person to the young person today.",
        "I explained to Child B what an independent advocate does.",
        "Advocacy: [ ] offered  [x] declined",
        "W1 made the active offer of advocacy to Child P and the Chair explained it again.",
    ],
)
def test_advocacy_offers_in_other_styles(text: str) -> None:
    assert run(ADVOCACY, text).outcome == "met"


@pytest.mark.parametrize(
    "text",
    [
        "Active offer of advocacy made to young person? ____",
        "Advocacy: [ ] offered  [ ] accepted  [ ] declined",
        "Advocacy to be offered to Child AE before his review.",
        "Action: W1 to make the active offer to Child F.",
        "The active offer of advocacy has still not been made.",
        "The Chair asked whether the active offer had been made.",
        "I spoke with the older sister alone. I explained the active offer of advocacy to her.",
        "Active offer of Welsh language services made to the young person.",
        "Independent Visitor referral made for Child Q.",
        "If Child A wants an advocate we would make a referral.",
    ],
)
def test_advocacy_non_offers(text: str) -> None:
    assert run(ADVOCACY, text).outcome == "not_met"


def test_advocacy_evidence_from_the_right_note() -> None:
    res = run(ADVOCACY, "Advocacy was not discussed.", "I made the active offer to Child A.")
    assert res.outcome == "met"
    assert res.evidence[0].note_id == "N2"
    assert "N2" in res.reason


# --- voice of the child -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'Child A told me: "Dw i ddim yn hoffi pan mae Dad yn gweiddi ar Mam".',
        "I saw Child A alone. She told me she wants to live with Nain.",
        'In his words, "everyone is making a big deal out of nothing".',
        "The young person said he wants to go to college.",
        "YP said she is happy at her placement.",
        "We did the three houses exercise and Child C drew her cat.",
        "W&F work completed with CYP; she chose 8 for school.",
        "Spoke with Child P. He doesn't want to go back home.",
    ],
)
def test_voice_met(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "met", res.reason


def test_voice_welsh_quote_evidence_includes_the_quote() -> None:
    text = 'Child A told me: "Dw i ddim yn hoffi".'
    res = run(VOICE, text)
    assert res.outcome == "met"
    assert res.evidence[0].text.endswith('"Dw i ddim yn hoffi"')


def test_pronoun_resolves_to_the_child_not_the_adult() -> None:
    assert run(VOICE, "I visited Child B at home. He said he likes school.").outcome == "met"
    # "she" resolves to Mum, the nearest female antecedent.
    res = run(VOICE, "I visited Child B and his mother. She said she feels tired.")
    assert res.outcome == "not_met", res.reason


@pytest.mark.parametrize(
    "text",
    [
        "Mum said he wants to come home.",
        "The teacher said she was worried about him.",
        'His older sister told me "he screams all night".',
        "Child T's cousin told me \"I'm scared\".",
        "Child A was not seen. Mum's view is that things are calmer.",
        "Child's views: ____",
        "Plan: W3 to meet Child O at school to seek his views.",
        "I did not speak with her today.",
    ],
)
def test_voice_not_met(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "not_met", res.reason


@pytest.mark.parametrize(
    "text",
    [
        "I asked Child F if I could speak with her alone; she did not want to talk today.",
        "Tried to call the young person twice to hear his views; no answer.",
        "Wishes and feelings session using the scaling cards, but Child AA left the session.",
        "I asked Child AJ if he would do some likes and dislikes cards; he turned away.",
    ],
)
def test_voice_partial_attempts(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "partial", res.reason


def test_non_verbal_observation_counts_for_a_baby() -> None:
    text = "Baby C was alert, babbling, and reached for her mother."
    assert run(VOICE, text, age=0).outcome == "met"
    # The same behaviour of a verbal 10-year-old is not their voice.
    assert run(VOICE, text, age=10).outcome == "not_met"


def test_non_verbal_marker_enables_observation() -> None:
    text = "Child E is autistic and non-verbal. He led Mum to the fridge and signed 'more'."
    assert run(VOICE, text, age=10).outcome == "met"


def test_non_verbal_observation_attempt_is_partial() -> None:
    text = (
        "Child S has no spoken words. I had hoped to observe Child S playing, "
        "but she was asleep throughout the visit."
    )
    assert run(VOICE, text, age=6).outcome == "partial"


# --- carers assessment ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("I offered Mum a carer's assessment; she declined.", "met"),
        ("Carers assmt completed with Nan today.", "met"),
        ("I have arranged a carer's assessment for 18/04.", "met"),
        ("Young carer's assessment offered to Child I and completed.", "met"),
        (
            "The Chair asked W3 to offer Nan a carer's assessment; W3 confirmed this was offered.",
            "met",
        ),
        ("Dad has not been offered a carer's assessment yet.", "not_met"),
        ("Action: W6 to offer Aunt a carer's assessment.", "not_met"),
        ("Great-Nan to be offered a carer's assessment.", "not_met"),
        ("Carer's assessment offered to Dad? ____", "not_met"),
        ("Parenting assessment completed with Mum and Dad.", "not_met"),
        ("The young person would benefit from a carer's assessment.", "not_met"),
    ],
)
def test_carers(text: str, outcome: str) -> None:
    res = run(CARERS, text, case_type="care_and_support")
    assert res.outcome == outcome, res.reason


def test_text_kind_does_not_import_spacy_at_import_time() -> None:
    import subprocess
    import sys

    code = "import recaudit.kinds.text, sys; print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_child_gender_from_the_note_guides_pronouns() -> None:
    # The note shows Child B is a boy ("his room"), so "she" is Mum, not Child B.
    text = "Mum and Child B were at home. Child B showed me his room. She said she feels tired."
    assert run(VOICE, text).outcome == "not_met"
    text = "Mum and Child B were at home. Child B showed me her room. She said she feels safe."
    assert run(VOICE, text).outcome == "met"


@pytest.mark.parametrize(
    "text",
    [
        "C1 told me she wants to stay at Nan's.",
        "[Child] said she likes her new school.",
    ],
)
def test_other_child_reference_styles(text: str) -> None:
    assert run(VOICE, text).outcome == "met"


def test_lac_review_is_not_the_child() -> None:
    assert run(ADVOCACY, "At the LAC review advocacy was offered to Mum.").outcome == "not_met"


def test_bad_cue_is_a_load_time_error(tmp_path) -> None:
    import shutil

    from recaudit.resources import rules_dir
    from recaudit.rulepack import PackError, load_pack

    pack = tmp_path / "pack"
    shutil.copytree(rules_dir() / "wales-children", pack)
    cues = pack / "lexicons" / "context-cues.yaml"
    cues.write_text(
        cues.read_text(encoding="utf-8")
        + '  - {pattern: "nope", category: negated, direction: sideways}\n',
        encoding="utf-8",
    )
    with pytest.raises(PackError) as exc:
        load_pack(pack)
    message = str(exc.value)
    assert "context_cues" in message and "direction" in message
    assert "voice-of-child.yaml:" in message


def test_unknown_tier_key_is_a_load_time_error(tmp_path) -> None:
    import shutil

    from recaudit.resources import rules_dir
    from recaudit.rulepack import PackError, load_pack

    pack = tmp_path / "pack"
    shutil.copytree(rules_dir() / "wales-children", pack)
    rule = pack / "rules" / "carers-assessment-offer.yaml"
    rule.write_text(
        rule.read_text(encoding="utf-8").replace("window: 12", "window: 12\n    colour: red"),
        encoding="utf-8",
    )
    with pytest.raises(PackError, match="colour"):
        load_pack(pack)


def test_another_named_child_is_a_sibling() -> None:
    # The record's child is the one named most often (Child A); Child B is another person.
    notes = (
        "Visit for Child A. Child A was at school.",
        "Her sister Child B told me she wants to go home.",
    )
    assert run(VOICE, *notes).outcome == "not_met"
    notes = (
        "Child A was at school. Child A's review is next week.",
        "I made the active offer of advocacy to Child C.",
    )
    assert run(ADVOCACY, *notes).outcome == "not_met"
    assert run(ADVOCACY, "I made the active offer of advocacy to Child C.").outcome == "met"


# --- Recording styles unlike the dev set (one case per failure pattern, own sentences) ---


@pytest.mark.parametrize(
    "text",
    [
        # A sentence-initial pronoun continues the previous sentence's subject/speaker, not
        # the child named inside that speaker's report.
        "Dad told me Child K keeps missing school. He said he is exhausted by it all.",
        "Nan said the YP will not get up in the mornings. She says she cannot cope.",
        "Gran phoned the SW; said Child M has gone to stay with a friend. She said she wants"
        " some respite.",
        # A coordinated subject pronoun continues the sentence's lead.
        "Stepdad said Child R is 'hard work' and he wants her to move out.",
    ],
)
def test_sentence_initial_pronoun_prefers_the_previous_speaker(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "not_met", res.reason


def test_pronoun_still_resolves_to_the_child_who_leads_the_sentence() -> None:
    text = "Child K told me about her week. She said she enjoys her new swimming club."
    assert run(VOICE, text).outcome == "met"


@pytest.mark.parametrize(
    "text",
    [
        "FC reports he would love to join the scouts.",
        "Phone call with the YP's aunt, who says the room is damp.",
        "Spoke to Child D's grandfather, who said he misses his old school.",
    ],
)
def test_an_adults_account_of_the_childs_wishes_is_not_voice(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "not_met", res.reason


@pytest.mark.parametrize(
    "text",
    [
        "Placement discussed with the carer; the YP said he'd prefer to stay put.",
        "The IRO reported that she had met the young person and the young person had said"
        " that he feels listened to.",
        "IRO noted that Child J had told her he likes his new school.",
        'Dywedodd y plentyn: "Dw i\'n hapus yma" (I am happy here).',
        "Soniodd y person ifanc am yr ysgol: \"Mae'n iawn\" (it's fine).",
        'Child H messaged the PA: "can we meet at the library instead".',
        "The YP emailed the IRO to say she wants her review held at college.",
        "Child N wrote a letter to the panel saying she wants to stay with her carers.",
    ],
)
def test_child_speech_in_other_styles(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "met", res.reason


def test_english_gloss_of_a_quote_belongs_to_the_quoted_speaker() -> None:
    text = 'Dywedodd y person ifanc: "Dw i eisiau aros" (I want to stay).'
    res = run(VOICE, text)
    assert res.outcome == "met"
    assert "not attributed" not in res.reason and "worker" not in res.reason


@pytest.mark.parametrize(
    "text",
    [
        "SW called at the house to see Child E and hear her views - no answer, card left.",
        "Child V picked up the pen; he wrote his name and then would not continue.",
    ],
)
def test_attempts_are_partial(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "partial", res.reason


def test_a_question_between_adults_is_not_an_attempt() -> None:
    text = "The Chair asked if the consultation form had been returned by Child S."
    assert run(VOICE, text).outcome == "not_met"


@pytest.mark.parametrize(
    "text",
    [
        "Advocacy was explained to Dad, who said Child W would not want it.",
        "Nan asked about an advocate for the tribunal and the SW agreed to refer her.",
        "Action: IRO to make sure AO made to Child W before the review.",
        "W4 to check that the active offer has been made to the young person.",
        "Advocacy offered to Child 2 (the sister) at the visit.",
    ],
)
def test_advocacy_other_styles_not_offered_to_the_child(text: str) -> None:
    res = run(ADVOCACY, text)
    assert res.outcome == "not_met", res.reason


def test_advocacy_offered_to_the_child_by_name_after_the_verb() -> None:
    assert run(ADVOCACY, "Advocacy explained to Child W and Mum today.").outcome == "met"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("Carer's assessment offered:  [ ] Yes   [ ] No", "not_met"),
        ("Carers assessment offered: [x] Yes [ ] No", "met"),
        ("Carers assessment offered: ☑ Yes ☐ No", "met"),
        ("Carers assessment offered: [✓] Yes [ ] No", "met"),
    ],
)
def test_carers_tick_boxes(text: str, outcome: str) -> None:
    assert run(CARERS, text).outcome == outcome


@pytest.mark.parametrize(
    "text",
    [
        "I phoned the young person twice to find out what she thinks about contact, no answer.",
        "Left a card for Child A so that he can tell us his wishes - nothing heard back.",
        "I rang YP this morning asking whether she wants the review in school, no response yet.",
    ],
)
def test_a_workers_purpose_is_an_attempt_not_the_childs_view(text: str) -> None:
    res = run(VOICE, text)
    # The speech/view verb after "to find out what", "so that he can" is what the worker
    # hoped to hear: only the attempt counts.
    assert res.outcome == "partial", res.reason


@pytest.mark.parametrize(
    "text",
    [
        "TW said he gets cross when the bus is late.",
        "B explained that she likes her new bedroom.",
        "A.J. told me he misses his friends from his old school.",
    ],
)
def test_a_child_named_by_initials_is_the_child(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "met", res.reason


@pytest.mark.parametrize(
    "text",
    [
        "FC said he has settled well.",
        "HV said she is feeding well.",
        "LAC said to be held in June.",
    ],
)
def test_role_and_service_initials_are_not_the_child(text: str) -> None:
    res = run(VOICE, text)
    assert res.outcome == "not_met", res.reason


def test_pronoun_follows_a_child_named_by_initials_not_the_adult_object() -> None:
    res = run(
        VOICE,
        "Met with Dad at the office.",
        "RB described that he worries about dad when he is at football. "
        "He rated how worried he feels at 7/10.",
    )
    assert res.outcome == "met", res.reason
    assert any("7/10" in (ev.sentence or "") for ev in res.evidence), res.evidence


def test_a_sentence_topic_child_wins_over_a_later_object_for_the_next_he() -> None:
    # No subject in the first sentence: its topic is the first person named (the child),
    # so "He" is the child, not "his uncle" named last.
    res = run(
        VOICE,
        "Sat with the young person about his uncle. "
        "He looked away, would not answer and kept drawing, so I tried again later.",
    )
    assert res.outcome == "partial", res.reason
