"""RapidOCR's own per-poster stages (preprocess, DB post-process, box filter and order, crops, angle
classifier, CTC decoding), configured as RapidOCR configures them, but without the ONNX sessions it would
build: the batched path brings its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stages:
    ocr: Any  # RapidOCR: preprocess, maybe_add_letterbox, sorted_boxes, get_crop_img_list, _get_origin_points
    detector: Any  # TextDetector: filter_tag_det_res
    db: Any  # DBPostProcess: probability map -> boxes
    ctc: Any  # CTCLabelDecode: recogniser output -> (text, score)
    classifier: Any  # TextClassifier running on our session, or None


class _SessionCall:
    """A session called the way RapidOCR's OrtInferSession is: `session(batch)[0]`."""

    def __init__(self, session) -> None:
        self.session, self.input = session, session.get_inputs()[0].name

    def __call__(self, batch):
        return self.session.run(None, {self.input: batch})


def rapidocr_stages(box_threshold: float, rec_session, cls_session=None) -> Stages:
    """RapidOCR's stage objects from its default config (box threshold ours); no session is created."""
    from rapidocr_onnxruntime.ch_ppocr_cls import TextClassifier
    from rapidocr_onnxruntime.ch_ppocr_cls.utils import ClsPostProcess
    from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess
    from rapidocr_onnxruntime.ch_ppocr_rec.utils import CTCLabelDecode
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH, RapidOCR
    from rapidocr_onnxruntime.utils import read_yaml

    config = read_yaml(DEFAULT_CFG_PATH)
    ocr = RapidOCR.__new__(RapidOCR)
    for key in ("min_height", "width_height_ratio", "max_side_len", "min_side_len"):
        setattr(ocr, key, config["Global"][key])
    det = config["Det"]
    db = DBPostProcess(
        thresh=det["thresh"],
        box_thresh=box_threshold,
        max_candidates=det["max_candidates"],
        unclip_ratio=det["unclip_ratio"],
        score_mode=det["score_mode"],
        use_dilation=det["use_dilation"],
    )
    characters = rec_session.get_modelmeta().custom_metadata_map["character"].splitlines()
    classifier = None
    if cls_session is not None:
        classifier = TextClassifier.__new__(TextClassifier)
        cls = config["Cls"]
        classifier.cls_image_shape, classifier.cls_thresh = cls["cls_image_shape"], cls["cls_thresh"]
        classifier.cls_batch_num = 64  # a fixed input shape: batch size changes no output
        classifier.postprocess_op = ClsPostProcess(cls["label_list"])
        classifier.infer = _SessionCall(cls_session)
    return Stages(ocr, TextDetector.__new__(TextDetector), db, CTCLabelDecode(character=characters), classifier)
