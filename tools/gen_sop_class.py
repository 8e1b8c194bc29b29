"""Generate ``src/dicomnet/_sop_class_generated.py`` from pydicom's UID dictionary.

Run ``python tools/gen_sop_class.py`` after upgrading pydicom; ``tests/test_sop_class.py`` fails
when the committed file is stale. The generated module imports nothing from pydicom, so
``dicomnet.sop_class`` stays cheap to import (echoscu's cold start).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydicom._uid_dict import UID_dictionary

TARGET = Path(__file__).resolve().parent.parent / "src" / "dicomnet" / "_sop_class_generated.py"

QR_MARKERS = ("QueryRetrieveInformationModel", "QueryRetrieveRetrieve")
WORKLIST_MARKER = "WorklistInformationModel"
QR_SUFFIXES = ("Find", "Move", "Get")  # the other Query/Retrieve services of PS3.4
NOT_NETWORK_STORAGE = {"MediaStorageDirectoryStorage"}

# --- pynetdicom's names (facts read from its documentation; its code is not used) -------------

#: pynetdicom's StoragePresentationContexts: 120 storage classes it chose for requestors (room for
#: 8 more contexts in one association), by keyword; generated sorted by UID as its list is.
STORAGE_120: tuple[str, ...] = (
    "AmbulatoryECGWaveformStorage",
    "ArterialPulseWaveformStorage",
    "AutorefractionMeasurementsStorage",
    "BasicStructuredDisplayStorage",
    "BasicTextSRStorage",
    "BasicVoiceAudioWaveformStorage",
    "BlendingSoftcopyPresentationStateStorage",
    "BreastTomosynthesisImageStorage",
    "CTImageStorage",
    "CardiacElectrophysiologyWaveformStorage",
    "ChestCADSRStorage",
    "ColonCADSRStorage",
    "ColorSoftcopyPresentationStateStorage",
    "Comprehensive3DSRStorage",
    "ComprehensiveSRStorage",
    "ComputedRadiographyImageStorage",
    "DeformableSpatialRegistrationStorage",
    "DigitalIntraOralXRayImageStorageForPresentation",
    "DigitalIntraOralXRayImageStorageForProcessing",
    "DigitalMammographyXRayImageStorageForPresentation",
    "DigitalMammographyXRayImageStorageForProcessing",
    "DigitalXRayImageStorageForPresentation",
    "DigitalXRayImageStorageForProcessing",
    "EncapsulatedCDAStorage",
    "EncapsulatedPDFStorage",
    "EnhancedCTImageStorage",
    "EnhancedMRColorImageStorage",
    "EnhancedMRImageStorage",
    "EnhancedPETImageStorage",
    "EnhancedSRStorage",
    "EnhancedUSVolumeStorage",
    "EnhancedXAImageStorage",
    "EnhancedXRFImageStorage",
    "GeneralAudioWaveformStorage",
    "GeneralECGWaveformStorage",
    "GrayscaleSoftcopyPresentationStateStorage",
    "HardcopyColorImageStorage",
    "HardcopyGrayscaleImageStorage",
    "HemodynamicWaveformStorage",
    "ImplantationPlanSRStorage",
    "IntraocularLensCalculationsStorage",
    "IntravascularOpticalCoherenceTomographyImageStorageForPresentation",
    "IntravascularOpticalCoherenceTomographyImageStorageForProcessing",
    "KeratometryMeasurementsStorage",
    "KeyObjectSelectionDocumentStorage",
    "LegacyConvertedEnhancedCTImageStorage",
    "LegacyConvertedEnhancedMRImageStorage",
    "LegacyConvertedEnhancedPETImageStorage",
    "LensometryMeasurementsStorage",
    "MRImageStorage",
    "MRSpectroscopyStorage",
    "MacularGridThicknessAndVolumeReportStorage",
    "MammographyCADSRStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameSingleBitSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage",
    "NuclearMedicineImageStorage",
    "NuclearMedicineImageStorageRetired",
    "OphthalmicAxialMeasurementsStorage",
    "OphthalmicPhotography16BitImageStorage",
    "OphthalmicPhotography8BitImageStorage",
    "OphthalmicThicknessMapStorage",
    "OphthalmicTomographyImageStorage",
    "OphthalmicVisualFieldStaticPerimetryMeasurementsStorage",
    "PositronEmissionTomographyImageStorage",
    "ProcedureLogStorage",
    "PseudoColorSoftcopyPresentationStateStorage",
    "RTBeamsDeliveryInstructionStorage",
    "RTBeamsTreatmentRecordStorage",
    "RTBrachyTreatmentRecordStorage",
    "RTDoseStorage",
    "RTImageStorage",
    "RTIonBeamsTreatmentRecordStorage",
    "RTIonPlanStorage",
    "RTPlanStorage",
    "RTStructureSetStorage",
    "RTTreatmentSummaryRecordStorage",
    "RawDataStorage",
    "RealWorldValueMappingStorage",
    "RespiratoryWaveformStorage",
    "SecondaryCaptureImageStorage",
    "SegmentationStorage",
    "SpatialFiducialsStorage",
    "SpatialRegistrationStorage",
    "SpectaclePrescriptionReportStorage",
    "StandaloneCurveStorage",
    "StandaloneModalityLUTStorage",
    "StandaloneOverlayStorage",
    "StandalonePETCurveStorage",
    "StandaloneVOILUTStorage",
    "StereometricRelationshipStorage",
    "StoredPrintStorage",
    "SubjectiveRefractionMeasurementsStorage",
    "SurfaceScanMeshStorage",
    "SurfaceScanPointCloudStorage",
    "SurfaceSegmentationStorage",
    "TwelveLeadECGWaveformStorage",
    "UltrasoundImageStorage",
    "UltrasoundImageStorageRetired",
    "UltrasoundMultiFrameImageStorage",
    "UltrasoundMultiFrameImageStorageRetired",
    "VLEndoscopicImageStorage",
    "VLImageStorageTrial",
    "VLMicroscopicImageStorage",
    "VLMultiFrameImageStorageTrial",
    "VLPhotographicImageStorage",
    "VLSlideCoordinatesMicroscopicImageStorage",
    "VLWholeSlideMicroscopyImageStorage",
    "VideoEndoscopicImageStorage",
    "VideoMicroscopicImageStorage",
    "VideoPhotographicImageStorage",
    "VisualAcuityMeasurementsStorage",
    "XAXRFGrayscaleSoftcopyPresentationStateStorage",
    "XRay3DAngiographicImageStorage",
    "XRay3DCraniofacialImageStorage",
    "XRayAngiographicBiPlaneImageStorage",
    "XRayAngiographicImageStorage",
    "XRayRadiationDoseSRStorage",
    "XRayRadiofluoroscopicImageStorage",
)

#: pynetdicom's ready-made context lists that are fixed sets of SOP classes, by keyword (ours,
#: i.e. pydicom's). AllStorage- and VerificationPresentationContexts are built from our own
#: groups instead (see dicomnet.presentation).
CONTEXT_LISTS: dict[str, tuple[str, ...]] = {
    "ApplicationEventLoggingPresentationContexts": (
        "ProceduralEventLogging",
        "SubstanceAdministrationLogging",
    ),
    "BasicWorklistManagementPresentationContexts": ("ModalityWorklistInformationModelFind",),
    "ColorPalettePresentationContexts": tuple(
        f"ColorPaletteQueryRetrieveInformationModel{s}" for s in QR_SUFFIXES
    ),
    "DefinedProcedureProtocolPresentationContexts": tuple(
        f"DefinedProcedureProtocolInformationModel{s}" for s in QR_SUFFIXES
    ),
    "DisplaySystemPresentationContexts": ("DisplaySystem",),
    "HangingProtocolPresentationContexts": tuple(
        f"HangingProtocolInformationModel{s}" for s in QR_SUFFIXES
    ),
    "ImplantTemplatePresentationContexts": tuple(
        f"{kind}InformationModel{s}"
        for kind in ("GenericImplantTemplate", "ImplantAssemblyTemplate", "ImplantTemplateGroup")
        for s in QR_SUFFIXES
    ),
    "InstanceAvailabilityPresentationContexts": ("InstanceAvailabilityNotification",),
    "MediaCreationManagementPresentationContexts": ("MediaCreationManagement",),
    "MediaStoragePresentationContexts": ("MediaStorageDirectoryStorage",),
    "ModalityPerformedPresentationContexts": (
        "ModalityPerformedProcedureStep",
        "ModalityPerformedProcedureStepRetrieve",
        "ModalityPerformedProcedureStepNotification",
    ),
    "ModalityWorklistPresentationContexts": ("ModalityWorklistInformationModelFind",),
    "NonPatientObjectPresentationContexts": (
        "HangingProtocolStorage",
        "ColorPaletteStorage",
        "GenericImplantTemplateStorage",
        "ImplantAssemblyTemplateStorage",
        "ImplantTemplateGroupStorage",
        "CTDefinedProcedureProtocolStorage",
        "ProtocolApprovalStorage",
        "XADefinedProcedureProtocolStorage",
        "InventoryStorage",
    ),
    "PrintManagementPresentationContexts": (
        "BasicFilmSession",
        "BasicFilmBox",
        "BasicGrayscaleImageBox",
        "BasicColorImageBox",
        "PrintJob",
        "BasicAnnotationBox",
        "Printer",
        "PrinterConfigurationRetrieval",
        "PresentationLUT",
        "BasicGrayscalePrintManagementMeta",
        "BasicColorPrintManagementMeta",
    ),
    "ProcedureStepPresentationContexts": (
        "ModalityPerformedProcedureStep",
        "ModalityPerformedProcedureStepRetrieve",
        "ModalityPerformedProcedureStepNotification",
    ),
    "ProtocolApprovalPresentationContexts": tuple(
        f"ProtocolApprovalInformationModel{s}" for s in QR_SUFFIXES
    ),
    "QueryRetrievePresentationContexts": (
        *(
            f"{root}QueryRetrieveInformationModel{s}"
            for root in ("PatientRoot", "StudyRoot", "PatientStudyOnly")
            for s in QR_SUFFIXES
        ),
        "CompositeInstanceRootRetrieveMove",
        "CompositeInstanceRootRetrieveGet",
        "CompositeInstanceRetrieveWithoutBulkDataGet",
        "RepositoryQuery",
    ),
    "RelevantPatientInformationPresentationContexts": (
        "GeneralRelevantPatientInformationQuery",
        "BreastImagingRelevantPatientInformationQuery",
        "CardiacRelevantPatientInformationQuery",
    ),
    "RTMachineVerificationPresentationContexts": (
        "RTConventionalMachineVerification",
        "RTIonMachineVerification",
    ),
    "StorageCommitmentPresentationContexts": ("StorageCommitmentPushModel",),
    "StoragePresentationContexts": STORAGE_120,
    "SubstanceAdministrationPresentationContexts": (
        "ProductCharacteristicsQuery",
        "SubstanceApprovalQuery",
    ),
    "UnifiedProcedurePresentationContexts": tuple(
        f"UnifiedProcedureStep{s}" for s in ("Push", "Watch", "Pull", "Event", "Query")
    ),
}

#: SOP classes pynetdicom names that are in none of the lists above: the inventory creation and
#: storage management service.
OTHER_CLASSES = ("InventoryCreation",)

#: pynetdicom's names where they differ from the DICOM keyword: alias -> our keyword.
ALIASES: dict[str, str] = {
    "ModalityWorklistInformationFind": "ModalityWorklistInformationModelFind",
    "ColorPaletteInformationModelFind": "ColorPaletteQueryRetrieveInformationModelFind",
    "ColorPaletteInformationModelMove": "ColorPaletteQueryRetrieveInformationModelMove",
    "ColorPaletteInformationModelGet": "ColorPaletteQueryRetrieveInformationModelGet",
    "PseudoColorSoftcopyPresentationStageStorage": "PseudoColorSoftcopyPresentationStateStorage",
    "VariableModalityLUTSoftcopyPresentationStageStorage": (
        "VariableModalityLUTSoftcopyPresentationStateStorage"
    ),
    "RoboticArmRadiationRecordStorage": "RoboticRadiationRecordStorage",
    "OphthlamicOpticalCoherenceTomographyBscanVolumeAnalysisStorage": (
        "OphthalmicOpticalCoherenceTomographyBscanVolumeAnalysisStorage"
    ),
    "RTBrachyApplicationSetupDeliveryInstructionsStorage": (
        "RTBrachyApplicationSetupDeliveryInstructionStorage"
    ),
}

#: UIDs newer than pydicom's dictionary that pynetdicom knows: (uid, name, keyword, kind).
EXTRA_UIDS: tuple[tuple[str, str, str, str], ...] = (
    (
        "1.2.840.10008.5.1.4.1.1.9.100.1",
        "Waveform Presentation State Storage",
        "WaveformPresentationStateStorage",
        "SOP Class",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.9.100.2",
        "Waveform Acquisition Presentation State Storage",
        "WaveformAcquisitionPresentationStateStorage",
        "SOP Class",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.66.7",
        "Label Map Segmentation Storage",
        "LabelMapSegmentationStorage",
        "SOP Class",
    ),
    (
        "1.2.840.10008.5.1.4.1.1.66.8",
        "Height Map Segmentation Storage",
        "HeightMapSegmentationStorage",
        "SOP Class",
    ),
    ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", "JPEGXLLossless", "Transfer Syntax"),
    (
        "1.2.840.10008.1.2.4.111",
        "JPEG XL JPEG Recompression",
        "JPEGXLJPEGRecompression",
        "Transfer Syntax",
    ),
    ("1.2.840.10008.1.2.4.112", "JPEG XL", "JPEGXL", "Transfer Syntax"),
    (
        "1.2.840.10008.1.2.8.1",
        "Deflated Image Frame Compression",
        "DeflatedImageFrameCompression",
        "Transfer Syntax",
    ),
)

#: getscu's default storage classes (SCP role, one context each beside the C-GET one: 127 fit):
#: pynetdicom's StoragePresentationContexts without its retired classes, then the other
#: non-retired storage classes, image-like ones first (keyword with ImageStorage,
#: SegmentationStorage or MapStorage), each group in UID order; left out: DICOS (security
#: screening, 1.2.840.10008.5.1.4.1.1.501.*), DICONDE (industrial NDE, ...601.*) and the
#: non-patient objects (hanging protocols, colour palettes, implant templates, protocols,
#: inventories), which a C-GET of patient data does not return.
RETRIEVE_STORAGE_LIMIT = 127
_NOT_RETRIEVED_PREFIXES = ("1.2.840.10008.5.1.4.1.1.501.", "1.2.840.10008.5.1.4.1.1.601.")
_IMAGE_LIKE = ("ImageStorage", "SegmentationStorage", "MapStorage")


def retrieve_storage(rows: list[tuple[str, str, str, str, bool]]) -> list[str]:
    """The keywords of getscu's default storage classes (see RETRIEVE_STORAGE_LIMIT)."""
    storage = [(kw, uid) for group, kw, uid, _n, old in rows if group == "storage" and not old]
    first = [kw for kw, _uid in storage if kw in STORAGE_120]
    non_patient = set(CONTEXT_LISTS["NonPatientObjectPresentationContexts"])
    rest = [
        (kw, uid)
        for kw, uid in storage
        if kw not in STORAGE_120
        and kw not in non_patient
        and not uid.startswith(_NOT_RETRIEVED_PREFIXES)
    ]
    images = [kw for kw, _uid in rest if any(m in kw for m in _IMAGE_LIKE)]
    others = [kw for kw, _uid in rest if kw not in images]
    return [*first, *images, *others][:RETRIEVE_STORAGE_LIMIT]


#: Every keyword a fixed list names that category() leaves out: generated with group "other".
_LISTED = {k for keywords in CONTEXT_LISTS.values() for k in keywords} | set(OTHER_CLASSES)


def category(uid: str, kind: str, keyword: str) -> str | None:
    """The service group a UID belongs to, or None if dicomnet does not expose it."""
    if kind == "Transfer Syntax":
        return "transfer"
    if kind != "SOP Class" or not keyword:
        return None
    if uid == "1.2.840.10008.1.1":
        return "verification"
    if keyword.endswith("Storage") or "StorageFor" in keyword or "StorageTrial" in keyword:
        return None if keyword in NOT_NETWORK_STORAGE else "storage"
    if keyword.endswith("StorageRetired"):
        return "storage"
    if any(marker in keyword for marker in QR_MARKERS) or keyword.startswith("CompositeInstance"):
        return "qr"
    if WORKLIST_MARKER in keyword:
        return "worklist"
    if keyword.endswith(QR_SUFFIXES):  # Hanging Protocol, Implant Template, Inventory, ... Q/R
        return "qr"
    return None


def _entries() -> list[tuple[str, str, str, str, str]]:
    """(uid, name, kind, retired, keyword): pydicom's dictionary, then the UIDs it lacks."""
    known = [(uid, v[0], v[1], v[3], v[4]) for uid, v in UID_dictionary.items()]
    extra = [(u, n, kind, "", k) for u, n, k, kind in EXTRA_UIDS if u not in UID_dictionary]
    return known + extra


def render() -> str:
    rows: list[tuple[str, str, str, str, bool]] = []
    for uid, name, kind, retired, keyword in _entries():
        group = category(uid, kind, keyword)
        if group is None and kind in ("SOP Class", "Meta SOP Class") and keyword in _LISTED:
            group = "other"
        if group is not None:
            rows.append((group, keyword, uid, name, retired == "Retired"))
    rows.sort(key=lambda r: (r[0], [int(p) for p in r[2].split(".")]))
    out = [
        '"""GENERATED by tools/gen_sop_class.py from pydicom\'s UID dictionary. Do not edit."""',
        "",
        "# ruff: noqa: E501",
        "from dicomnet._uid import SOPClass, TransferSyntax",
        "",
    ]
    names: list[str] = []
    for group, keyword, uid, name, retired in rows:
        cls = "TransferSyntax" if group == "transfer" else "SOPClass"
        extra = "" if group == "transfer" else f", {group!r}"
        out.append(f"{keyword} = {cls}({uid!r}, {name!r}, {keyword!r}{extra}, retired={retired!r})")
        names.append(keyword)
    known = set(names)
    missing = sorted((_LISTED | set(ALIASES.values())) - known)
    if missing:
        raise SystemExit(f"keywords named in the tables but unknown: {missing}")
    out.append("")
    out.append("# pynetdicom's names where they differ from the DICOM keyword")
    for alias, keyword in ALIASES.items():
        out.append(f"{alias} = {keyword}")
        names.append(alias)
    out.append("")
    out.append("# well-known SOP instances (N-GET of a Printer, Display System, ...)")
    for uid, _name, kind, retired, keyword in _entries():
        if kind == "Well-known SOP Instance" and keyword and retired != "Retired":
            out.append(f"{keyword} = {uid!r}")
            names.append(keyword)
    out.append("")
    out.append(
        "#: pynetdicom's fixed context lists: list name -> SOP classes, sorted by UID as its are."
    )
    out.append("CONTEXT_LISTS: dict[str, tuple[SOPClass, ...]] = {")
    by_keyword = {row[1]: row[2] for row in rows}
    for list_name, keywords in CONTEXT_LISTS.items():
        ordered = sorted(keywords, key=lambda k: by_keyword[k])  # by UID text, as pynetdicom
        out.append(f"    {list_name!r}: ({', '.join(ordered)},),")
    out.append("}")
    out.append("")
    out.append("#: getscu's default storage classes (tools/gen_sop_class.py: how they are chosen).")
    out.append("RETRIEVE_STORAGE_DEFAULT: tuple[SOPClass, ...] = (")
    for keyword in retrieve_storage(rows):
        out.append(f"    {keyword},")
    out.append(")")
    out.append("")
    out.append("__all__ = [")
    line = "   "
    for n in names:  # several names a line: the file stays well under 800 lines
        if len(line) + len(repr(n)) + 2 > 99:
            out.append(line)
            line = "   "
        line += f" {n!r},"
    out.append(line)
    out.append("]")
    return "\n".join(out) + "\n"


def main() -> int:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
