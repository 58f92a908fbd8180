"""Network architectures of the learned restorers (plain torch).

Every network works on single-channel images in [0, 1]; colour images are
restored channel by channel (or on luma, for super-resolution) by
:mod:`restoration.learned.restorers`. Each class is built from keyword
arguments only, and those arguments are written into the model card, so a
model directory rebuilds its network without pickled code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def fill_from_known(image: torch.Tensor, mask: torch.Tensor, *, levels: int = 12) -> torch.Tensor:
    """Smooth fill of the masked pixels from the known ones (push-pull pyramid).

    Known pixels are averaged down a pyramid of 2x2 blocks, then the coarsest
    estimate is pulled back up and used wherever a level had no known pixel.
    The inpainting networks start from this fill and learn a correction.
    Written by hand because no installed library runs it on torch tensors.

    Parameters
    ----------
    image : Tensor
        (N, C, H, W) values.
    mask : Tensor
        (N, 1, H, W), 1 where the pixel is damaged (unknown).

    References
    ----------
    Gortler et al., "The Lumigraph", SIGGRAPH 1996 (pull-push).
    """
    known = 1.0 - mask
    values, weights = [image * known], [known]
    for _ in range(levels):
        if min(values[-1].shape[-2:]) <= 1:
            break
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    estimate = values[-1] / weights[-1].clamp_min(1e-8)
    for value, weight in zip(reversed(values[:-1]), reversed(weights[:-1])):
        up = F.interpolate(estimate, size=value.shape[-2:], mode="bilinear", align_corners=False)
        own = value / weight.clamp_min(1e-8)
        w = weight.clamp(0, 1)
        estimate = own * w + up * (1 - w)
    return image * known + estimate * mask


class Denoiser(nn.Module):
    """Residual CNN of the DnCNN family, on a 2x2 pixel-unshuffled image with a noise-level map.

    The image is folded into 4 half-resolution channels (as in FFDNet), a
    constant noise-level map is appended, ``depth`` 3x3 convolutions with
    ReLU predict the noise, and the noise is subtracted (residual learning).

    References
    ----------
    Zhang et al., "Beyond a Gaussian denoiser: residual learning of deep CNN
    for image denoising" (DnCNN), IEEE TIP 2017; Zhang et al., "FFDNet:
    toward a fast and flexible solution for CNN-based image denoising",
    IEEE TIP 2018.
    """

    def __init__(self, *, width: int = 64, depth: int = 12):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(5, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):  # conv-BN-ReLU, as in DnCNN: a plain deep ReLU stack trains unstably
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 4, 3, padding=1))
        self.body = nn.Sequential(*layers)
        for layer in self.body[:-1]:
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    #: Spatial sizes must be multiples of this.
    multiple = 2

    def forward(self, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``noisy`` (N, 1, H, W) in [0, 1]; ``sigma`` (N,) noise std in [0, 1] units."""
        folded = F.pixel_unshuffle(noisy, 2)
        level = sigma.view(-1, 1, 1, 1).expand(-1, 1, *folded.shape[-2:])
        noise = self.body(torch.cat([folded, level], 1))
        return noisy - F.pixel_shuffle(noise, 2)


class ResidualBlock(nn.Module):
    """conv-ReLU-conv with a scaled identity skip (EDSR's block without batch norm)."""

    def __init__(self, width: int, res_scale: float = 0.2):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x), inplace=True))


class SuperResolver(nn.Module):
    """Small EDSR with a sub-pixel (ESPCN) output, added to the bicubic upscale.

    References
    ----------
    Lim et al., "Enhanced deep residual networks for single image
    super-resolution", CVPRW 2017; Shi et al., "Real-time single image and
    video super-resolution using an efficient sub-pixel convolutional neural
    network" (ESPCN), CVPR 2016.
    """

    multiple = 1

    def __init__(self, *, scale: int = 2, width: int = 48, blocks: int = 8):
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        self.scale = scale
        self.head = nn.Conv2d(1, width, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)], nn.Conv2d(width, width, 3, padding=1))
        self.tail = nn.Conv2d(width, scale * scale, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, small: torch.Tensor) -> torch.Tensor:
        """``small`` (N, 1, h, w) in [0, 1] -> (N, 1, h*scale, w*scale)."""
        base = F.interpolate(small, scale_factor=self.scale, mode="bicubic", align_corners=False)
        features = self.head(small)
        features = features + self.body(features)
        return base + F.pixel_shuffle(self.tail(features), self.scale)


class GatedConv(nn.Module):
    """Gated convolution: ``ELU(features) * sigmoid(gate)`` (Yu et al., ICCV 2019)."""

    def __init__(self, cin: int, cout: int, *, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, stride=stride, padding=dilation, dilation=dilation)
        # He init and gates that start mostly open (sigmoid(2) = 0.88): with torch's
        # defaults the signal fades through the stack and the generator barely trains.
        nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")
        nn.init.zeros_(self.conv.bias[:cout])
        nn.init.constant_(self.conv.bias[cout:], 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


#: Classical fills an inpainting network can start from (``start`` of :class:`InpaintGenerator`).
START_FILLS = ("push-pull", "biharmonic")


class InpaintGenerator(nn.Module):
    """U-Net of gated convolutions that corrects a classical fill inside the hole.

    Input: the image with its hole filled by the classical ``start`` fill
    (``biharmonic``: the biharmonic interpolant, computed by the caller and
    passed as ``filled``; ``push-pull``: :func:`fill_from_known`), and the
    mask. The last layer starts at zero, so the untrained network returns
    the classical fill exactly and training learns a correction on top of it.
    Output: the image with the hole synthesised and every known pixel copied
    from the input unchanged.

    References
    ----------
    Yu et al., "Free-form image inpainting with gated convolution", ICCV 2019;
    Ronneberger et al., "U-Net", MICCAI 2015.
    """

    multiple = 8

    def __init__(self, *, width: int = 32, start: str = "push-pull"):
        super().__init__()
        if start not in START_FILLS:
            raise ValueError(f"start must be one of {', '.join(START_FILLS)}, got {start!r}")
        self.start = start
        w = width
        self.enc0 = nn.Sequential(GatedConv(2, w), GatedConv(w, w))
        self.enc1 = nn.Sequential(GatedConv(w, 2 * w, stride=2), GatedConv(2 * w, 2 * w))
        self.enc2 = nn.Sequential(GatedConv(2 * w, 4 * w, stride=2), GatedConv(4 * w, 4 * w))
        self.enc3 = nn.Sequential(GatedConv(4 * w, 4 * w, stride=2), GatedConv(4 * w, 4 * w, dilation=2), GatedConv(4 * w, 4 * w, dilation=4))
        self.dec2 = GatedConv(8 * w, 4 * w)
        self.dec1 = GatedConv(6 * w, 2 * w)
        self.dec0 = GatedConv(3 * w, w)
        self.out = nn.Conv2d(w, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, *, filled: torch.Tensor | None = None) -> torch.Tensor:
        """``image`` (N, 1, H, W) in [0, 1], ``mask`` (N, 1, H, W) 1 = hole; H, W multiples of 8.

        ``filled`` is the :attr:`start` fill, computed by the caller over the
        whole image (tiled inference); it is required for ``biharmonic``, and
        a push-pull fill is computed here when it is not given.
        """
        if filled is None and self.start != "push-pull":
            raise ValueError(f"this generator starts from the {self.start} fill: pass it as filled=")
        start = fill_from_known(image, mask) if filled is None else filled
        e0 = self.enc0(torch.cat([start, mask], 1))
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, size=e2.shape[-2:], mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:], mode="nearest"), e1], 1))
        d0 = self.dec0(torch.cat([F.interpolate(d1, size=e0.shape[-2:], mode="nearest"), e0], 1))
        synthesised = start + self.out(d0)
        return torch.where(mask > 0.5, synthesised, image)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator with spectral normalisation; also returns its features.

    References
    ----------
    Isola et al., "Image-to-image translation with conditional adversarial
    networks", CVPR 2017; Miyato et al., "Spectral normalization for
    generative adversarial networks", ICLR 2018.
    """

    def __init__(self, *, width: int = 32):
        super().__init__()
        w = width
        self.layers = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(2, w, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(4 * w, 4 * w, 3, padding=1)),
            ]
        )
        self.out = spectral_norm(nn.Conv2d(4 * w, 1, 3, padding=1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = torch.cat([image, mask], 1)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.out(x), features


class ConvVAE(nn.Module):
    """Convolutional VAE with a spatial latent (``latent`` channels at 1/8 resolution).

    The encoder sees the image with any hole pre-filled and the mask, so the
    same model generates samples (decode ``z ~ N(0, I)``) and inpaints
    (encode the damaged image, decode the mean, blend into the hole).

    References
    ----------
    Kingma and Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """

    multiple = 8

    def __init__(self, *, width: int = 32, latent: int = 8):
        super().__init__()
        w = width
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(2, w, 3, padding=1), nn.ELU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.ELU(),
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.ELU(),
            nn.Conv2d(4 * w, 4 * w, 4, stride=2, padding=1), nn.ELU(),
            nn.Conv2d(4 * w, 2 * latent, 3, padding=1),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Conv2d(latent, 4 * w, 3, padding=1), nn.ELU(),
            nn.ConvTranspose2d(4 * w, 4 * w, 4, stride=2, padding=1), nn.ELU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.ELU(),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ELU(),
            nn.Conv2d(w, 1, 3, padding=1),
        )  # fmt: skip

    def encode(self, image: torch.Tensor, mask: torch.Tensor, *, filled: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | image, mask); ``filled`` as in :class:`InpaintGenerator`."""
        start = fill_from_known(image, mask) if filled is None else filled
        mu, logvar = self.encoder(torch.cat([start, mask], 1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Image in [0, 1] (logits through a sigmoid)."""
        return torch.sigmoid(self.decoder(z))

    def forward(self, image: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator | None = None):
        """Reconstruction, mean and log-variance (reparameterised sample)."""
        mu, logvar = self.encode(image, mask)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + noise * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


class DamageSegmenter(nn.Module):
    """A small U-Net that gives, per pixel, the logit of "this pixel is damaged".

    The image is first folded into 4 half-resolution channels (2x2 pixel
    unshuffle: lossless, so a one-pixel scratch survives, at a quarter of
    the cost of working at full resolution); then ``levels`` down-sampling
    steps (stride-2 convolutions) of two 3x3 convolutions each, doubling
    the width, and back up with bilinear up-sampling and skip connections;
    4 logits per half-resolution pixel are unfolded back to full
    resolution. Group normalisation, so that a single image scores the
    same alone or in a batch.

    References
    ----------
    Ronneberger, Fischer and Brox, "U-Net: convolutional networks for
    biomedical image segmentation", MICCAI 2015.
    """

    def __init__(self, *, width: int = 24, levels: int = 3):
        super().__init__()
        self.multiple = 2 ** (levels + 1)

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.SiLU(inplace=True),
            )  # fmt: skip

        widths = [width * 2**k for k in range(levels + 1)]
        self.inlet = block(4, widths[0])
        self.down = nn.ModuleList(nn.Conv2d(widths[k], widths[k + 1], 3, stride=2, padding=1) for k in range(levels))
        self.down_blocks = nn.ModuleList(block(widths[k + 1], widths[k + 1]) for k in range(levels))
        self.up_blocks = nn.ModuleList(block(widths[k + 1] + widths[k], widths[k]) for k in reversed(range(levels)))
        self.outlet = nn.Conv2d(widths[0], 4, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W) for ``image`` (N, 1, H, W) in [0, 1]; H, W multiples of :attr:`multiple`."""
        x = self.inlet(F.pixel_unshuffle(image - 0.5, 2))
        skips = [x]
        for down, blk in zip(self.down, self.down_blocks):
            x = blk(down(x))
            skips.append(x)
        skips.pop()
        for blk in self.up_blocks:
            skip = skips.pop()
            x = blk(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        return F.pixel_shuffle(self.outlet(x), 2)


#: Architectures by the name written in model cards.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "Denoiser": Denoiser,
    "SuperResolver": SuperResolver,
    "InpaintGenerator": InpaintGenerator,
    "PatchDiscriminator": PatchDiscriminator,
    "ConvVAE": ConvVAE,
    "DamageSegmenter": DamageSegmenter,
}


def build_network(name: str, options: dict) -> nn.Module:
    """Instantiate architecture ``name`` with keyword ``options`` (from a model card)."""
    try:
        cls = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}") from None
    return cls(**options)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
