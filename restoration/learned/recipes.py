"""What each learned task trains: its networks, its batches, its losses, its validation.

A recipe turns clean (or, self-supervised, damaged) patches into training
pairs with the damage module's own generators, computes the loss, and
scores a network on fixed validation crops. The generic loop in
:mod:`restoration.learned.training` does the rest (optimiser, schedule, EMA,
checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from restoration.damage.simulate import simulate_downscale, simulate_holes
from restoration.learned.data import PatchSampler, TrainingImage, batch_rng, random_patches
from restoration.metrics import hole_psnr, psnr, ssim

#: Hole ratios drawn for training masks (wide, so every benchmark bin is seen).
TRAIN_HOLE_RATIO = (0.05, 0.6)
#: Validation settings: fixed, so scores are comparable across steps and runs.
VALIDATION_SIGMA = 25.0
VALIDATION_HOLE_RATIO = (0.2, 0.4)
VALIDATION_CROPS = 8
VALIDATION_SIZE = 128


def hole_mask(size: int, rng: np.random.Generator, *, ratio=TRAIN_HOLE_RATIO, context: int = 4) -> np.ndarray:
    """A free-form hole mask for a ``size`` crop, cut from a mask drawn at ``context`` times the size.

    Drawing at the larger size keeps stroke widths those of whole images
    (the damage module scales strokes with the image).
    """
    big = size * context
    _, mask = simulate_holes(np.zeros((big, big), np.uint8), ratio=ratio, rng=rng)
    y, x = rng.integers(0, big - size + 1, size=2)
    return mask[y : y + size, x : x + size]


def _tensor(array: np.ndarray) -> torch.Tensor:
    """(N, H, W) numpy -> (N, 1, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(array, np.float32)).unsqueeze(1)


@dataclass
class Recipe:
    """Base class: subclasses set the task and fill in the hooks."""

    task: str = ""
    #: Name of the network that is saved, averaged and used for inference.
    main: str = "net"
    #: Learning rate per network (the trainer's ``lr`` scales them).
    lr_scale: dict = field(default_factory=lambda: {"net": 1.0})

    def networks(self, options: dict) -> dict[str, tuple[str, dict]]:
        raise NotImplementedError

    def batch(self, images: list[TrainingImage], *, seed: int, step: int, batch_size: int, patch: int, self_supervised: bool) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def step(self, nets, optimizers, batch: dict[str, torch.Tensor], *, autocast: Callable, generator: torch.Generator) -> dict[str, float]:
        raise NotImplementedError

    def validation_set(self, images: list[TrainingImage], *, seed: int) -> list[dict[str, np.ndarray]]:
        raise NotImplementedError

    def validate(self, net, items: list[dict[str, np.ndarray]], device: torch.device) -> dict[str, float]:
        raise NotImplementedError

    def _crops(self, images: list[TrainingImage], seed: int) -> list[tuple[np.ndarray, np.random.Generator]]:
        rng = batch_rng(seed, 0, f"validation-{self.task}")
        return [(crop, rng) for crop, _ in random_patches(images, VALIDATION_CROPS, VALIDATION_SIZE, rng, augment=False)]


def _optimise(optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


@dataclass
class DenoiseRecipe(Recipe):
    """Blind Gaussian denoising over sigma 0-55 (0-255 scale).

    Supervised: clean crops plus noise drawn as in the benchmark protocol
    (additive, unclipped). Self-supervised: blind-spot training (Noise2Void)
    on the noisy archive itself: a few pixels of each crop are replaced by a
    random neighbour, and the loss is taken only at those pixels, so the
    network cannot learn the identity.

    References
    ----------
    Krull, Buchholz and Jug, "Noise2Void - learning denoising from single
    noisy images", CVPR 2019.
    """

    task: str = "denoise"
    sigma_range: tuple[float, float] = (0.0, 55.0)
    blind_spot_fraction: float = 0.02

    def networks(self, options):
        # 48 x 10 at half resolution: about 52 GMAC per megapixel, the budget for 2 s per megapixel on 2 CPU cores
        return {"net": ("Denoiser", {"width": 48, "depth": 10, **options})}

    def batch(self, images, *, seed, step, batch_size, patch, self_supervised):
        rng = batch_rng(seed, step)
        clean = np.stack([crop for crop, _ in random_patches(images, batch_size, patch, rng)])
        if self_supervised:
            return self._blind_spot(clean, rng)
        sigma = rng.uniform(*self.sigma_range, size=batch_size) / 255.0
        noisy = clean + rng.normal(size=clean.shape) * sigma[:, None, None]
        return {"input": noisy, "target": clean, "sigma": sigma, "weight": np.ones_like(clean)}

    def _blind_spot(self, noisy, rng):
        from restoration.methods.denoise import estimate_noise_sigma

        n, h, w = noisy.shape
        chosen = rng.random(noisy.shape) < self.blind_spot_fraction
        dy = rng.integers(-2, 3, size=noisy.shape)
        dx = rng.integers(-2, 3, size=noisy.shape)
        dy[(dy == 0) & (dx == 0)] = 1
        ys = np.clip(np.arange(h)[None, :, None] + dy, 0, h - 1)
        xs = np.clip(np.arange(w)[None, None, :] + dx, 0, w - 1)
        neighbour = noisy[np.arange(n)[:, None, None], ys, xs]
        sigma = np.array([estimate_noise_sigma(p) for p in noisy]) / 255.0
        return {"input": np.where(chosen, neighbour, noisy), "target": noisy, "sigma": sigma, "weight": chosen.astype(np.float32)}

    def step(self, nets, optimizers, batch, *, autocast, generator):
        with autocast():
            out = nets["net"](batch["input"], batch["sigma"].float())
        weight = batch["weight"]
        loss = ((out.float() - batch["target"]) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
        _optimise(optimizers["net"], loss)
        return {"loss": loss.item()}

    def validation_set(self, images, *, seed):
        items = []
        for crop, rng in self._crops(images, seed):
            noisy = crop + rng.normal(size=crop.shape) * VALIDATION_SIGMA / 255.0
            items.append({"input": noisy.astype(np.float32), "target": crop})
        return items

    @torch.no_grad()
    def validate(self, net, items, device):
        rows = []
        for item in items:
            x = _tensor(item["input"][None]).to(device)
            out = net(x, torch.full((1,), VALIDATION_SIGMA / 255.0, device=device)).clamp(0, 1)[0, 0].float().cpu().numpy()
            rows.append({"psnr": psnr(item["target"], out, data_range=1.0), "ssim": ssim(item["target"], out, data_range=1.0)})
        return _mean_scores(rows)


@dataclass
class SuperResolutionRecipe(Recipe):
    """x2 / x4 super-resolution from antialiased bicubic downscaling (the damage module's ``downscale``)."""

    task: str = "sr"
    scale: int = 2

    def networks(self, options):
        return {"net": ("SuperResolver", {"scale": self.scale, "width": 48, "blocks": 8, **options})}

    def batch(self, images, *, seed, step, batch_size, patch, self_supervised):
        if self_supervised:
            raise ValueError("super-resolution has no self-supervised mode (it needs high-resolution images)")
        rng = batch_rng(seed, step)
        size = patch - patch % self.scale
        clean = np.stack([crop for crop, _ in random_patches(images, batch_size, size, rng)])
        small = np.stack([simulate_downscale(c, scale=self.scale)[0] for c in clean])
        return {"input": small, "target": clean}

    def step(self, nets, optimizers, batch, *, autocast, generator):
        with autocast():
            out = nets["net"](batch["input"])
        loss = F.l1_loss(out.float(), batch["target"])
        _optimise(optimizers["net"], loss)
        return {"loss": loss.item()}

    def validation_set(self, images, *, seed):
        return [{"input": simulate_downscale(crop, scale=self.scale)[0], "target": crop} for crop, _ in self._crops(images, seed)]

    @torch.no_grad()
    def validate(self, net, items, device):
        rows = []
        for item in items:
            out = net(_tensor(item["input"][None]).to(device)).clamp(0, 1)[0, 0].float().cpu().numpy()
            b = self.scale  # border crop, as in the SR literature
            ref, got = item["target"][b:-b, b:-b], out[b:-b, b:-b]
            rows.append({"psnr": psnr(ref, got, data_range=1.0), "ssim": ssim(ref, got, data_range=1.0)})
        return _mean_scores(rows)


def _inpaint_batch(images, *, seed, step, batch_size, patch, self_supervised):
    """Crops, synthetic holes, and the pixels the loss may look at.

    Self-supervised: the archive's own damage is unknown too, and the loss
    covers only pixels that are not marked damaged.
    """
    rng = batch_rng(seed, step)
    sampler = PatchSampler(images)
    clean, holes, trusted = [], [], []
    for _ in range(batch_size):
        crop, damaged = sampler.crop(patch, rng)
        hole = hole_mask(patch, rng)
        known = np.ones_like(crop) if (damaged is None or not self_supervised) else (~damaged).astype(np.float32)
        clean.append(crop)
        holes.append(np.maximum(hole, known == 0))
        trusted.append(known)
    return {"target": np.stack(clean), "mask": np.stack(holes).astype(np.float32), "trusted": np.stack(trusted)}


@dataclass
class HoleFillingRecipe(Recipe):
    """Shared validation of the inpainting recipes: hole PSNR on fixed crops with fixed holes."""

    def fill(self, net, damaged: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def validation_set(self, images, *, seed):
        items = []
        for crop, rng in self._crops(images, seed):
            _, mask = simulate_holes(np.zeros(crop.shape, np.uint8), ratio=VALIDATION_HOLE_RATIO, rng=rng)
            items.append({"target": crop, "mask": mask.astype(np.float32)})
        return items

    @torch.no_grad()
    def validate(self, net, items, device):
        rows = []
        for item in items:
            target, mask = _tensor(item["target"][None]).to(device), _tensor(item["mask"][None]).to(device)
            out = self.fill(net, target * (1 - mask), mask).clamp(0, 1)[0, 0].float().cpu().numpy()
            hole = item["mask"] > 0.5
            rows.append(
                {
                    "hole_psnr": hole_psnr(item["target"], out, hole, data_range=1.0),
                    "psnr": psnr(item["target"], out, data_range=1.0),
                    "ssim": ssim(item["target"], out, data_range=1.0),
                }
            )
        return _mean_scores(rows)


@dataclass
class InpaintRecipe(HoleFillingRecipe):
    """Gated-convolution generator against a spectral-norm PatchGAN.

    Generator loss: L1 in the hole (weight ``hole_weight``) and outside it,
    hinge adversarial (``adversarial_weight``) and discriminator feature
    matching (``feature_weight``). Discriminator: hinge loss.

    References
    ----------
    Yu et al., "Free-form image inpainting with gated convolution", ICCV
    2019; Lim and Ye, "Geometric GAN", 2017 (hinge loss); Wang et al.,
    "High-resolution image synthesis with conditional GANs", CVPR 2018
    (feature matching).
    """

    task: str = "inpaint"
    main: str = "net"
    lr_scale: dict = field(default_factory=lambda: {"net": 1.0, "disc": 1.0})
    hole_weight: float = 6.0
    valid_weight: float = 1.0
    adversarial_weight: float = 0.01
    feature_weight: float = 0.1
    #: The classical fill the generator corrects (see :class:`~restoration.learned.networks.InpaintGenerator`).
    start: str = "biharmonic"

    def networks(self, options):
        self.start = options.get("start", self.start)
        return {"net": ("InpaintGenerator", {"width": 32, "start": self.start, **options}), "disc": ("PatchDiscriminator", {"width": 32})}

    def batch(self, images, **kwargs):
        from restoration.learned.inference import start_fill

        batch = _inpaint_batch(images, **kwargs)
        batch["start"] = start_fill(batch["target"] * (1 - batch["mask"]), batch["mask"], self.start)
        return batch

    def step(self, nets, optimizers, batch, *, autocast, generator):
        gen, disc = nets["net"], nets["disc"]
        target, mask, trusted = batch["target"], batch["mask"], batch["trusted"]
        damaged = target * (1 - mask)
        with autocast():
            fake = gen(damaged, mask, filled=batch["start"])
        # discriminator: hinge loss on real crops vs detached fills
        with autocast():
            real_score, _ = disc(target, mask)
            fake_score, _ = disc(fake.detach(), mask)
        d_loss = F.relu(1 - real_score.float()).mean() + F.relu(1 + fake_score.float()).mean()
        _optimise(optimizers["disc"], d_loss)
        # generator
        fake = fake.float()
        hole = mask * trusted
        l1_hole = (torch.abs(fake - target) * hole).sum() / hole.sum().clamp_min(1.0)
        valid = (1 - mask) * trusted
        l1_valid = (torch.abs(fake - target) * valid).sum() / valid.sum().clamp_min(1.0)
        with autocast():
            score, fake_features = disc(fake, mask)
            with torch.no_grad():
                _, real_features = disc(target, mask)
        adversarial = -score.float().mean()
        matching = sum(F.l1_loss(f.float(), r.float()) for f, r in zip(fake_features, real_features)) / len(fake_features)
        g_loss = self.hole_weight * l1_hole + self.valid_weight * l1_valid + self.adversarial_weight * adversarial + self.feature_weight * matching
        _optimise(optimizers["net"], g_loss)
        return {"loss": g_loss.item(), "l1_hole": l1_hole.item(), "d_loss": d_loss.item(), "adversarial": adversarial.item()}

    def fill(self, net, damaged: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from restoration.learned.inference import start_fill

        start = start_fill(damaged[:, 0].cpu().numpy(), mask[:, 0].cpu().numpy(), net.start)
        return net(damaged, mask, filled=torch.from_numpy(start)[:, None].to(damaged.device))


@dataclass
class VAERecipe(HoleFillingRecipe):
    """Convolutional VAE: reconstruction (Gaussian, std ``recon_std``) + KL.

    Half the crops get holes, so the encoder learns to encode damaged images
    and the decoder to produce the whole image: the model samples and
    inpaints (``vae-inpaint``). Self-supervised: holes are only synthetic
    and the reconstruction loss skips pixels marked damaged.
    """

    task: str = "vae"
    recon_std: float = 0.1
    hole_probability: float = 0.5

    def networks(self, options):
        return {"net": ("ConvVAE", {"width": 32, "latent": 8, **options})}

    def batch(self, images, *, seed, step, **kwargs):
        batch = _inpaint_batch(images, seed=seed, step=step, **kwargs)
        keep = batch_rng(seed, step, "vae-holes").random(len(batch["mask"])) < self.hole_probability
        batch["mask"] = np.where(keep[:, None, None], batch["mask"], 1 - batch["trusted"])
        return batch

    def step(self, nets, optimizers, batch, *, autocast, generator):
        target, mask, trusted = batch["target"], batch["mask"], batch["trusted"]
        with autocast():
            recon, mu, logvar = nets["net"](target * (1 - mask), mask, generator=generator)
        n = target.shape[0]
        recon_loss = (((recon.float() - target) ** 2) * trusted).sum() / (2 * self.recon_std**2) / n
        kl = -0.5 * torch.sum(1 + logvar.float() - mu.float() ** 2 - logvar.float().exp()) / n
        loss = (recon_loss + kl) / target[0].numel()
        _optimise(optimizers["net"], loss)
        return {"loss": loss.item(), "recon": recon_loss.item() / target[0].numel(), "kl": kl.item() / target[0].numel()}

    def fill(self, net, damaged: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mu, _ = net.encode(damaged, mask)
        return torch.where(mask > 0.5, net.decode(mu), damaged)


#: Damage the detector learns, drawn by the damage module's own simulators (holes and tears get random fills).
DETECT_KINDS = ("holes", "tears", "scratches", "cracks", "dust", "blotches", "salt-pepper", "dead-lines")
#: Side of the canvas damage is drawn on before a training crop is cut from it (strokes scale with it).
DETECT_CANVAS = 256
#: Thresholds tried on the validation crops; the best F1's goes into the model card.
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 19))


def _dead_lines(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A few dead or stuck rows or columns (detector faults), at a constant or offset value."""
    out, mask = image.copy(), np.zeros(image.shape, bool)
    for _ in range(int(rng.integers(1, 4))):
        index = int(rng.integers(0, image.shape[0]))
        target = (out, mask) if rng.random() < 0.5 else (out.T, mask.T)
        if rng.random() < 0.5:
            target[0][index] = rng.uniform(0, 1)
        else:
            target[0][index] = np.clip(target[0][index] + rng.choice([-1, 1]) * rng.uniform(0.1, 0.5), 0, 1)
        target[1][index] = True
    return out, mask


def damage_for_detection(clean: np.ndarray, rng: np.random.Generator, *, kinds=DETECT_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """A [0, 1] plane damaged by a random mix of ``kinds`` at random strength, and the mask of what changed.

    The clean plane first gets a random tone curve (contrast, brightness,
    gamma, sometimes inverted), holes and tears a random fill (often, not
    always, black or white), and every kind a random opacity, so that a
    network learns the shapes and edges of damage rather than "white is
    damage"; about one plane in six stays clean, and mild noise is added
    after the damage half of the time (damage on a real scan is grainy too).
    """
    plane = np.clip(clean, 0, 1)
    low, high = sorted(rng.uniform(0, 1, 2))
    if high - low < 0.3:
        low, high = 0.0, 1.0
    plane = low + (high - low) * plane ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.15:
        plane = 1.0 - plane
    mask = np.zeros(plane.shape, bool)
    if rng.random() >= 1 / 6:
        from restoration.damage import simulate

        for kind in rng.choice(kinds, size=int(rng.integers(1, 4)), replace=False):
            if kind in ("holes", "tears"):
                simulator = simulate.simulate_holes if kind == "holes" else simulate.simulate_tears
                _, new = simulator(np.zeros(plane.shape, np.uint8), ratio=(0.01, 0.15), rng=rng)
                fill = rng.choice([0.0, 1.0]) if rng.random() < 0.6 else rng.uniform(0, 1)
                damaged = np.where(new, fill, plane)
            elif kind == "dead-lines":
                damaged, new = _dead_lines(plane, rng)
            else:
                simulator = {
                    "scratches": simulate.simulate_scratches, "cracks": simulate.simulate_cracks, "dust": simulate.simulate_dust,
                    "blotches": simulate.simulate_blotches, "salt-pepper": simulate.simulate_salt_pepper,
                }[kind]  # fmt: skip
                ratio = (0.001, 0.01) if kind == "salt-pepper" else None
                damaged, new = simulator(plane, rng=rng, value_range=(0.0, 1.0), **({"ratio": ratio} if ratio else {}))
                damaged = plane + rng.uniform(0.5, 1.0) * (damaged - plane) if kind != "salt-pepper" else damaged
                new &= np.abs(damaged - plane) > 0.02  # what does not show is not damage to find
            plane, mask = damaged, mask | new
    if rng.random() < 0.5:
        plane = plane + rng.normal(0, rng.uniform(0, 6) / 255, plane.shape)
    return np.clip(plane, 0, 1).astype(np.float32), mask


def _f1_at(probabilities: list[np.ndarray], masks: list[np.ndarray], threshold: float) -> tuple[float, float]:
    """F1 and IoU over all validation crops pooled, with the 1-pixel tolerance of :func:`restoration.metrics.detection_scores`."""
    from restoration.metrics import detection_counts

    counts = np.array([detection_counts(truth, prob >= threshold, tolerance=1) for prob, truth in zip(probabilities, masks)])
    correct, found, predicted_total, true_total = (int(v) for v in counts.sum(axis=0))
    precision = correct / predicted_total if predicted_total else 0.0
    recall = found / true_total if true_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    tp = 0.5 * (correct + found)
    union = tp + (predicted_total - correct) + (true_total - found)
    return f1, (tp / union if union else 0.0)


@dataclass
class DetectRecipe(Recipe):
    """Damage segmentation: clean crops damaged on the fly by every simulator, a pixel-wise mask to predict.

    Loss: binary cross-entropy plus soft Dice (damage is a few per cent of
    the pixels; Dice keeps the rare class from being ignored). Validation
    sweeps the decision threshold over :data:`THRESHOLDS` on fixed damaged
    crops and reports the best F1 (1-pixel tolerance) with its threshold,
    which the trained model's card keeps as ``decision_threshold``.

    References
    ----------
    Milletari, Navab and Ahmadi, "V-Net", 3DV 2016 (Dice loss).
    """

    task: str = "detect"

    def networks(self, options):
        return {"net": ("DamageSegmenter", {"width": 24, "levels": 3, **options})}

    def batch(self, images, *, seed, step, batch_size, patch, self_supervised):
        if self_supervised:
            raise ValueError("damage detection learns from clean images damaged on the fly; it has no self-supervised mode")
        rng = batch_rng(seed, step)
        sampler = PatchSampler(images)
        inputs, targets = [], []
        canvas = max(DETECT_CANVAS, patch)
        for _ in range(batch_size):
            crop, _ = sampler.crop(canvas, rng)
            damaged, mask = damage_for_detection(crop, rng)
            y, x = rng.integers(0, canvas - patch + 1, size=2)
            inputs.append(damaged[y : y + patch, x : x + patch])
            targets.append(mask[y : y + patch, x : x + patch])
        return {"input": np.stack(inputs), "target": np.stack(targets).astype(np.float32)}

    def step(self, nets, optimizers, batch, *, autocast, generator):
        with autocast():
            logits = nets["net"](batch["input"])
        logits, target = logits.float(), batch["target"]
        bce = F.binary_cross_entropy_with_logits(logits, target)
        prob = torch.sigmoid(logits)
        dice = 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)
        loss = bce + dice
        _optimise(optimizers["net"], loss)
        return {"loss": loss.item(), "bce": bce.item(), "dice": dice.item()}

    def validation_set(self, images, *, seed):
        items = []
        rng = batch_rng(seed, 0, "validation-detect")
        sampler = PatchSampler(images)
        for _ in range(2 * VALIDATION_CROPS):
            crop, _ = sampler.crop(DETECT_CANVAS, rng, augment=False)
            damaged, mask = damage_for_detection(crop, rng)
            items.append({"input": damaged, "target": mask})
        return items

    @torch.no_grad()
    def validate(self, net, items, device):
        probabilities = [torch.sigmoid(net(_tensor(item["input"][None]).to(device)))[0, 0].float().cpu().numpy() for item in items]
        masks = [item["target"] for item in items]
        scored = [(threshold, *_f1_at(probabilities, masks, threshold)) for threshold in THRESHOLDS]
        threshold, f1, iou = max(scored, key=lambda row: (row[1], -abs(row[0] - 0.5)))
        return {"f1": f1, "iou": iou, "threshold": threshold}


def recipe_for(task: str, *, scale: int = 2) -> Recipe:
    """The recipe of ``task``: the one its learned restorer's registry entry names (:class:`restoration.registry.Learned`)."""
    import importlib
    import inspect

    from restoration.learned.catalog import learned_entry, learned_tasks, restorer_of_task

    try:
        learned = learned_entry(restorer_of_task(task)).learned
    except ValueError:
        raise ValueError(f"unknown training task {task!r}; choose from: {', '.join(learned_tasks())}") from None
    module, _, name = learned.recipe.partition(":")
    recipe = getattr(importlib.import_module(module), name)
    return recipe(scale=scale) if "scale" in inspect.signature(recipe).parameters else recipe()
