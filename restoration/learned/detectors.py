"""The learned damage detector: array in, :class:`~restoration.damage.detect.Detection` out, in bounded memory.

Like :mod:`restoration.learned.restorers`, this module does not import
torch: the signature is what the registry, the command line and the UI
read, and the network is loaded at the first call, once per process and
model.
"""

from __future__ import annotations

import os

import numpy as np

from restoration.damage.detect import Detection, gray_unit, grow_mask

DEFAULT_TILE = 256


def detect_learned(
    image: np.ndarray,
    *,
    threshold: float | None = None,
    grow: int = 0,
    model: os.PathLike | str | None = None,
    tile: int = DEFAULT_TILE,
    self_ensemble: bool = False,
    value_range=None,
) -> Detection:
    """Damage of every kind found by the segmentation network trained by ``archive-restore train --task detect``.

    The network sees the image as gray on the [0, 1] scale of
    ``value_range`` (luma for colour) and gives each pixel a probability of
    being damaged: the confidence. A pixel is damaged when it reaches
    ``threshold``; default: the threshold that gave the best F1 on the
    model's validation crops, kept in its card (``decision_threshold``).
    The mask is then grown by ``grow`` pixels, so that it also covers the
    soft rim of a speck or a stain, which an inpainter should replace too.
    ``self_ensemble`` averages the network over the eight flips and quarter
    turns of the image (eight times the time).

    References
    ----------
    Ronneberger, Fischer and Brox, "U-Net: convolutional networks for
    biomedical image segmentation", MICCAI 2015.
    """
    from restoration.learned import inference

    net, card = inference.network("detect-unet", {"model": model})
    gray = np.nan_to_num(gray_unit(image, value_range=value_range))
    probability = inference.damage_probability(gray, net=net, tile=tile, self_ensemble=self_ensemble)
    chosen = float(card.get("decision_threshold", 0.5)) if threshold is None else float(threshold)
    return Detection(grow_mask(probability >= chosen, grow), probability)
