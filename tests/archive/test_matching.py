"""C-FIND matching (PS3.4 C.2.2.2) of the archive, through the network with our SCU, against
SQLite and PostgreSQL alike (the ``db_url`` fixture runs each test on both)."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet.association import Association
from tests.archive.content import extra_study_uid, query
from tests.helpers import dataset_bytes
from tests.qr.archive import Archive, Receiver, series_uid, study_uid


def find(
    assoc: Association, identifier: Dataset, model: str = "S", relational: bool = False
) -> list[Dataset]:
    """The matches; asserts the responses end with one Success without identifier."""
    results = [
        (int(s.Status), ident)
        for s, ident in assoc.send_c_find(identifier, model, relational=relational)
    ]
    assert results, "no response"
    *pending, final = results
    assert final == (0x0000, None), final
    assert all(status == 0xFF00 and ident is not None for status, ident in pending)
    return [ident for _status, ident in pending if ident is not None]


@pytest.fixture
def careless(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our SCU checks identifiers before sending; many in the field do not. This turns the
    check off, so that the archive sees what they send."""
    monkeypatch.setattr("dicomnet._qr_scu.validate_identifier", lambda *a, **k: None)


def failure(assoc: Association, identifier: Dataset, model: str = "S") -> tuple[int, str]:
    results = list(assoc.send_c_find(identifier, model))
    assert len(results) == 1, results
    status, ident = results[0]
    assert ident is None
    return int(status.Status), str(status.get("ErrorComment", ""))


def studies(found: list[Dataset]) -> list[str]:
    return sorted(str(d.StudyInstanceUID) for d in found)


def study_query(**keys: Any) -> Dataset:
    keys.setdefault("StudyInstanceUID", "")
    return query("STUDY", **keys)


# --- levels and models ------------------------------------------------------------------------


def test_patient_root_patient_level_lists_each_patient_once(assoc: Association) -> None:
    found = find(assoc, query("PATIENT", PatientID="PAT00*", PatientName=""), "P")
    assert sorted((d.PatientID, str(d.PatientName)) for d in found) == [
        ("PAT001", "Alpha^Anna"),
        ("PAT002", "Beta^Bob"),
    ]
    assert all(d.QueryRetrieveLevel == "PATIENT" for d in found)


def test_patient_root_study_level_under_one_patient(assoc: Association) -> None:
    found = find(assoc, query("STUDY", PatientID="PAT001", StudyInstanceUID="", StudyDate=""), "P")
    assert sorted((d.StudyInstanceUID, d.StudyDate, d.PatientID) for d in found) == [
        (study_uid(1), "20240101", "PAT001"),
        (study_uid(2), "20240315", "PAT001"),
    ]


def test_series_and_image_levels(assoc: Association) -> None:
    series = find(
        assoc,
        query("SERIES", StudyInstanceUID=study_uid(1), SeriesInstanceUID="", Modality=""),
    )
    assert sorted((d.SeriesInstanceUID, d.Modality) for d in series) == [
        (series_uid(1, 1), "CT"),
        (series_uid(1, 2), "CT"),
    ]
    assert all(d.StudyInstanceUID == study_uid(1) for d in series)
    assert all("PatientID" not in d for d in series)  # Study Root: no patient level
    images = find(
        assoc,
        query(
            "IMAGE",
            StudyInstanceUID=study_uid(1),
            SeriesInstanceUID=series_uid(1, 1),
            SOPInstanceUID="",
            InstanceNumber="",
        ),
    )
    assert sorted(int(d.InstanceNumber) for d in images) == [1, 2, 3]
    assert all(d.SeriesInstanceUID == series_uid(1, 1) for d in images)


def test_patient_study_only_model(assoc: Association, careless: None) -> None:
    found = find(assoc, query("STUDY", PatientID="PAT002", StudyInstanceUID=""), "O")
    assert studies(found) == [study_uid(3)]
    status, comment = failure(assoc, query("SERIES", SeriesInstanceUID=""), "O")
    assert status == 0xA900 and "SERIES" in comment


# --- single value, universal, wildcards --------------------------------------------------------


def test_universal_matching_returns_every_study(assoc: Association) -> None:
    assert len(find(assoc, study_query(StudyDate=""))) == 3 + 6
    assert len(find(assoc, study_query(PatientName="*"))) == 3 + 6


def test_single_value_matching_is_case_sensitive_except_for_person_names(
    assoc: Association,
) -> None:
    assert studies(find(assoc, study_query(StudyDescription="Head CT"))) == [study_uid(1)]
    assert find(assoc, study_query(StudyDescription="head ct")) == []
    assert studies(find(assoc, study_query(PatientName="beta^bob"))) == [study_uid(3)]
    assert studies(find(assoc, study_query(PatientName="BETA^BOB"))) == [study_uid(3)]


def test_wildcards_star_and_question_mark(assoc: Association) -> None:
    assert studies(find(assoc, study_query(PatientName="al*"))) == [study_uid(1), study_uid(2)]
    assert studies(find(assoc, study_query(StudyDescription="*CT"))) == [
        study_uid(1),
        study_uid(3),
    ]
    assert studies(find(assoc, study_query(AccessionNumber="ACC00?"))) == [
        study_uid(1),
        study_uid(2),
        study_uid(3),
    ]
    assert find(assoc, study_query(AccessionNumber="ACC0?")) == []


def test_uid_list_matching(assoc: Association) -> None:
    found = find(assoc, study_query(StudyInstanceUID=[study_uid(1), study_uid(3)]))
    assert studies(found) == [study_uid(1), study_uid(3)]


# --- ranges ----------------------------------------------------------------------------------


def test_date_ranges(assoc: Association) -> None:
    assert studies(find(assoc, study_query(StudyDate="20240101-20240228"))) == [
        study_uid(1),
        study_uid(3),
    ]
    assert studies(find(assoc, study_query(StudyDate="20240301-"))) == [study_uid(2)]
    assert studies(find(assoc, study_query(StudyDate="-20230505"))) == [extra_study_uid(10)]
    assert studies(find(assoc, study_query(StudyDate="20240220"))) == [study_uid(3)]


def test_time_ranges_cover_the_unit_of_their_precision(assoc: Association) -> None:
    # 23:59:59 lies within "-2359" (the end of a range covers its whole minute)
    found = find(assoc, study_query(StudyTime="2300-2359", StudyDate="20230101-20231231"))
    assert studies(found) == [extra_study_uid(11)]
    found = find(assoc, study_query(StudyTime="0800-1000", StudyDate="20230101-20231231"))
    assert studies(found) == [extra_study_uid(12), extra_study_uid(13), extra_study_uid(14)]


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"StudyDate": "2024-01-01"}, "StudyDate"),
        ({"StudyDate": "20240101-20240201-20240301"}, "range"),
        ({"StudyDate": "-"}, "range"),
        ({"StudyTime": "25h-"}, "StudyTime"),
    ],
)
def test_malformed_ranges_fail_with_a_comment(
    assoc: Association, careless: None, keys: dict[str, str], words: str
) -> None:
    status, comment = failure(assoc, study_query(**keys))
    assert status == 0xA900
    assert words in comment


# --- return keys -----------------------------------------------------------------------------


def test_unsupported_keys_are_returned_empty(assoc: Association) -> None:
    found = find(
        assoc,
        study_query(StudyInstanceUID=study_uid(2), OperatorsName="", PatientMotherBirthName=""),
    )
    assert len(found) == 1
    assert "OperatorsName" in found[0] and found[0].OperatorsName in ("", None)
    assert "PatientMotherBirthName" in found[0]


def test_computed_counts_and_modalities(assoc: Association) -> None:
    found = find(
        assoc,
        study_query(
            PatientID="PAT001",
            ModalitiesInStudy="",
            NumberOfStudyRelatedSeries="",
            NumberOfStudyRelatedInstances="",
            RetrieveAETitle="",
            InstanceAvailability="",
        ),
    )
    got = {
        d.StudyInstanceUID: (
            d.ModalitiesInStudy,
            int(d.NumberOfStudyRelatedSeries),
            int(d.NumberOfStudyRelatedInstances),
            d.RetrieveAETitle,
            d.InstanceAvailability,
        )
        for d in found
    }
    assert got == {
        study_uid(1): ("CT", 2, 4, "QRSCP", "ONLINE"),
        study_uid(2): ("MR", 1, 2, "QRSCP", "ONLINE"),
    }


def test_modalities_in_study_is_matched(assoc: Association) -> None:
    assert studies(find(assoc, study_query(ModalitiesInStudy="MR"))) == [study_uid(2)]
    both = find(assoc, study_query(ModalitiesInStudy=["MR", "XA"], PatientID="PAT00*"))
    assert studies(both) == [study_uid(2)]


def test_relational_query_without_the_unique_keys_above(relational_assoc: Association) -> None:
    """A SERIES-level query with no StudyInstanceUID, relational queries negotiated: answered
    across studies."""
    found = find(
        relational_assoc, query("SERIES", SeriesInstanceUID="", Modality="MR"), relational=True
    )
    assert [d.SeriesInstanceUID for d in found] == [series_uid(2, 1)]
    assert found[0].StudyInstanceUID == study_uid(2)
    # Patient Root: an IMAGE-level query with no PatientID, StudyInstanceUID, SeriesInstanceUID
    images = find(
        relational_assoc, query("IMAGE", SOPInstanceUID="", Modality="MR"), "P", relational=True
    )
    assert sorted(d.SeriesInstanceUID for d in images) == [series_uid(2, 1)] * 2


@pytest.mark.usefixtures("careless")
def test_relational_query_not_negotiated_is_refused(assoc: Association) -> None:
    """Without relational queries accepted for the SOP class, a query missing the unique keys
    above its level gets 0xA900 naming the missing key (PS3.4 C.4.1.2.1), never matches."""
    code, comment = failure(assoc, query("SERIES", SeriesInstanceUID="", Modality="MR"))
    assert (code, comment) == (
        0xA900,
        "StudyInstanceUID missing: relational queries not negotiated",
    )
    code, comment = failure(assoc, query("STUDY", StudyInstanceUID="", PatientID="PAT00*"), "P")
    assert (code, comment) == (0xA900, "PatientID must be one value (relational not negotiated)")


# --- sequence matching (PS3.4 C.2.2.2.6) -------------------------------------------------------


def item(**keys: object) -> Dataset:
    ds = Dataset()
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def codes(found: Dataset) -> list[tuple[str, ...]]:
    """The Procedure Code Sequence items of a response as (keyword=value, ...) tuples."""
    return [tuple(f"{e.keyword}={e.value}" for e in code) for code in found.ProcedureCodeSequence]


def test_a_sequence_item_key_matches_and_only_matching_items_come_back(
    assoc: Association,
) -> None:
    code = item(CodeValue="XR22", CodingSchemeDesignator="", CodeMeaning="")
    found = find(assoc, study_query(charset="ISO_IR 100", ProcedureCodeSequence=[code]))
    assert studies(found) == [extra_study_uid(10)]
    # the matching item only, with the requested attributes only
    assert codes(found[0]) == [
        ("CodeValue=XR22", "CodingSchemeDesignator=DCM", "CodeMeaning=Röntgen Knie")
    ]
    assert found[0].SpecificCharacterSet == "ISO_IR 100"
    # every item key must match in one same item
    mixed = item(CodeValue="XR22", CodingSchemeDesignator="LOCAL")
    assert find(assoc, study_query(ProcedureCodeSequence=[mixed])) == []
    assert find(assoc, study_query(ProcedureCodeSequence=[item(CodeValue="NOPE")])) == []


def test_sequence_item_keys_use_the_matching_rules(assoc: Association) -> None:
    """Wildcards (case-sensitive for LO), UID-style lists, combined with top-level keys."""
    found = find(assoc, study_query(ProcedureCodeSequence=[item(CodeMeaning="*Knie*")]))
    assert studies(found) == [extra_study_uid(10)]
    assert codes(found[0]) == [("CodeMeaning=Knie MRT",), ("CodeMeaning=Röntgen Knie",)]
    assert find(assoc, study_query(ProcedureCodeSequence=[item(CodeMeaning="*knie*")])) == []
    either = item(CodeValue=["CHEST", "XR22"], CodingSchemeDesignator="")
    found = find(assoc, study_query(ProcedureCodeSequence=[either]))
    assert studies(found) == [extra_study_uid(10), extra_study_uid(11)]
    assert [codes(d) for d in sorted(found, key=lambda d: str(d.StudyInstanceUID))] == [
        [("CodeValue=XR22", "CodingSchemeDesignator=DCM")],
        [("CodeValue=CHEST", "CodingSchemeDesignator=LOCAL")],
    ]
    greek = item(CodeMeaning="Θώρακας*")
    found = find(assoc, study_query(charset="ISO_IR 192", ProcedureCodeSequence=[greek]))
    assert studies(found) == [extra_study_uid(11)]
    assert found[0].SpecificCharacterSet == "ISO_IR 192"
    assert codes(found[0]) == [("CodeMeaning=Θώρακας CT",)]


def test_a_zero_length_item_matches_all_and_returns_the_whole_sequence(
    assoc: Association,
) -> None:
    found = find(assoc, study_query(ProcedureCodeSequence=[Dataset()]))
    assert len(found) == 3 + 6  # universal: every study
    by_study = {str(d.StudyInstanceUID): d for d in found}
    assert codes(by_study[extra_study_uid(10)]) == [
        ("CodeValue=KNEE1", "CodingSchemeDesignator=LOCAL", "CodeMeaning=Knie MRT"),
        ("CodeValue=XR22", "CodingSchemeDesignator=DCM", "CodeMeaning=Röntgen Knie"),
    ]
    assert codes(by_study[study_uid(1)]) == []  # a study without one: an empty sequence
    # a query in ASCII gets UTF-8 for the Greek item, Latin-1 names as they are
    assert by_study[extra_study_uid(11)].SpecificCharacterSet == "ISO_IR 192"
    assert codes(by_study[extra_study_uid(11)])[0][-1] == "CodeMeaning=Θώρακας CT"


def test_an_item_of_return_keys_only_matches_all(assoc: Association) -> None:
    found = find(assoc, study_query(ProcedureCodeSequence=[item(CodeValue="")]))
    assert len(found) == 3 + 6
    by_study = {str(d.StudyInstanceUID): d for d in found}
    assert codes(by_study[extra_study_uid(10)]) == [("CodeValue=KNEE1",), ("CodeValue=XR22",)]


def test_sequence_keys_at_series_and_patient_levels(assoc: Association) -> None:
    request = item(RequestedProcedureID="RP1?", ScheduledProcedureStepID="")
    found = find(
        assoc,
        query(
            "SERIES",
            StudyInstanceUID=extra_study_uid(10),
            SeriesInstanceUID="",
            RequestAttributesSequence=[request],
        ),
    )
    assert [d.SeriesInstanceUID for d in found] == [f"{extra_study_uid(10)}.1"]
    [attributes] = found[0].RequestAttributesSequence
    assert (attributes.RequestedProcedureID, attributes.ScheduledProcedureStepID) == (
        "RP10",
        "SPS10",
    )
    dated = item(ScheduledProcedureStepStartDate="20230101-20231231")
    dated_query = query(
        "SERIES",
        StudyInstanceUID=extra_study_uid(10),
        SeriesInstanceUID="",
        RequestAttributesSequence=[dated],
    )
    assert len(find(assoc, dated_query)) == 1
    other = item(PatientID="ALT-*", IssuerOfPatientID="")
    found = find(assoc, query("PATIENT", PatientID="", OtherPatientIDsSequence=[other]), "P")
    assert [(d.PatientID, d.OtherPatientIDsSequence[0].IssuerOfPatientID) for d in found] == [
        ("O'Neil", "SITE2")
    ]


def test_a_malformed_range_in_an_item_fails_with_0xA900(assoc: Association) -> None:
    bad = item(ScheduledProcedureStepStartDate="2023-01-01")
    status, comment = failure(
        assoc,
        query("SERIES", StudyInstanceUID=extra_study_uid(10), SeriesInstanceUID="",
              RequestAttributesSequence=[bad]),
    )  # fmt: skip
    assert status == 0xA900 and "ScheduledProcedureStepStartDate" in comment


# --- character sets --------------------------------------------------------------------------


def test_latin1_name_matches_and_comes_back_in_latin1(assoc: Association) -> None:
    found = find(assoc, study_query(charset="ISO_IR 100", PatientName="müller*"))
    assert studies(found) == [extra_study_uid(10)]
    assert found[0].SpecificCharacterSet == "ISO_IR 100"
    assert str(found[0].PatientName) == "Müller^Jörg"


def test_utf8_name_matches_case_insensitively(assoc: Association) -> None:
    found = find(assoc, study_query(charset="ISO_IR 192", PatientName="ΩΜΈΓΑ*"))
    assert studies(found) == [extra_study_uid(11)]
    assert found[0].SpecificCharacterSet == "ISO_IR 192"
    assert str(found[0].PatientName) == "Ωμέγα^Αλφα"


def test_a_plain_query_gets_utf8_for_names_outside_ascii(assoc: Association) -> None:
    found = find(assoc, study_query(StudyInstanceUID=extra_study_uid(11), StudyDescription=""))
    assert found[0].SpecificCharacterSet == "ISO_IR 192"
    assert found[0].StudyDescription == "Θώρακας"
    # ... and a Latin-1 request whose answer does not fit Latin-1 gets UTF-8 as well
    found = find(
        assoc,
        study_query(charset="ISO_IR 100", StudyInstanceUID=extra_study_uid(11), PatientName=""),
    )
    assert found[0].SpecificCharacterSet == "ISO_IR 192"
    assert str(found[0].PatientName) == "Ωμέγα^Αλφα"


# --- SQL metacharacters: only bound parameters -------------------------------------------------


def test_quote_percent_underscore_and_backslash_match_literally(assoc: Association) -> None:
    assert studies(find(assoc, study_query(PatientID="O'Neil"))) == [extra_study_uid(12)]
    assert studies(find(assoc, study_query(PatientID="50%"))) == [extra_study_uid(13)]
    assert studies(find(assoc, study_query(PatientID="A_B"))) == [extra_study_uid(14)]
    # in wildcard patterns too: % and _ are not SQL wildcards here
    assert studies(find(assoc, study_query(StudyDescription="50%*"))) == [extra_study_uid(12)]
    assert studies(find(assoc, study_query(StudyDescription="A_*"))) == [extra_study_uid(13)]
    assert studies(find(assoc, study_query(StudyDescription="*_*"))) == [
        extra_study_uid(13),
        extra_study_uid(15),
    ]
    # LT keeps a backslash as a character
    found = find(assoc, study_query(PatientComments="C:\\temp\\*"))
    assert studies(found) == [extra_study_uid(12)]
    assert found[0].PatientComments == "C:\\temp\\x"


def test_injection_attempts_match_nothing_and_harm_nothing(assoc: Association) -> None:
    for value in ("x' OR '1'='1", "'; DROP TABLE patients; --", "\\' OR 1=1 --"):
        assert find(assoc, study_query(PatientName=value)) == []
        assert find(assoc, study_query(StudyDescription=value + "*")) == []
    assert len(find(assoc, study_query())) == 9


# --- bad identifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "words"),
    [
        (query(None, StudyInstanceUID=""), "QueryRetrieveLevel"),
        (query("FRAME", StudyInstanceUID=""), "invalid QueryRetrieveLevel"),
        (query("STUDY", StudyDate="20240101"), "StudyInstanceUID"),
        (query("STUDY", StudyInstanceUID="", SeriesInstanceUID=""), "SeriesInstanceUID"),
    ],
)
def test_bad_identifiers_fail_with_0xA900_and_a_comment(
    assoc: Association, careless: None, identifier: Dataset, words: str
) -> None:
    status, comment = failure(assoc, identifier)
    assert status == 0xA900
    assert words in comment
    assert len(find(assoc, study_query())) == 9  # and the association goes on


def test_retrieve_without_its_unique_key_fails_with_0xA900(
    assoc: Association, careless: None
) -> None:
    responses = list(assoc.send_c_get(query("STUDY", PatientID="PAT001"), "S"))
    assert len(responses) == 1
    status, _ident = responses[0]
    assert int(status.Status) == 0xA900
    assert "StudyInstanceUID" in status.ErrorComment
    assert int(status.NumberOfCompletedSuboperations) == 0
    # a key of a level above missing: relational retrieve is never answered
    [(status, _ident)] = assoc.send_c_get(query("SERIES", SeriesInstanceUID=series_uid(1, 1)), "S")
    assert int(status.Status) == 0xA900
    assert status.ErrorComment == "SERIES: StudyInstanceUID above it needs exactly one value"


def test_get_by_uid_list_at_image_level(
    assoc: Association, received: Receiver, filled: tuple[Any, Archive, Any]
) -> None:
    wanted = [f"{series_uid(1, 1)}.1", f"{series_uid(1, 1)}.3"]
    identifier = query(
        "IMAGE",
        StudyInstanceUID=study_uid(1),
        SeriesInstanceUID=series_uid(1, 1),
        SOPInstanceUID=wanted,
    )
    responses = list(assoc.send_c_get(identifier, "S"))
    final = responses[-1][0]
    assert int(final.Status) == 0x0000
    assert int(final.NumberOfCompletedSuboperations) == 2
    archive = filled[1]
    assert sorted(received.files) == sorted(wanted)
    for uid in wanted:  # undecoded: byte for byte (the SCU offers each transfer syntax)
        original = archive.by_sop_instance(uid)
        assert dataset_bytes(received.files[uid]) == original.dataset_bytes()
