"""Small equivalents of the architectures whose ops the counter must know (torchvision cannot be used by the tests):
ConvNeXt, Swin (v1 and v2), a ViT, a two-stage detector, recurrent nets and a transposed-conv decoder. Each keeps
the op pattern of the original (channels-last pooling, shifted windows with masks, cosine attention, box decoding,
non-maximum suppression, RoIAlign) at a size that profiles in milliseconds."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.torchvision_ops import nms, roi_align


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, channels-last LayerNorm and MLP, layer scale, residual (torchvision's CNBlock pattern)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.mlp(self.norm(y)).permute(0, 3, 1, 2)
        return x + self.layer_scale * y


class ConvNeXt(nn.Module):
    def __init__(self, dims=(16, 32), classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, dims[0], 4, stride=4)
        self.stage1 = ConvNeXtBlock(dims[0])
        self.down = nn.Conv2d(dims[0], dims[1], 2, stride=2)
        self.stage2 = ConvNeXtBlock(dims[1])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(dims[1], classes)

    def forward(self, x):
        x = self.stem(x.contiguous(memory_format=torch.channels_last))  # channels-last pooling: as_strided_
        x = self.stage2(self.down(self.stage1(x)))
        return self.head(self.pool(x).flatten(1))


def window_partition(x, window: int):
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


class WindowAttention(nn.Module):
    """Shifted-window attention with a relative position bias (v1) or cosine attention with a logit scale and a
    continuous position bias MLP (v2)."""

    def __init__(self, dim: int, heads: int, window: int, v2: bool):
        super().__init__()
        self.heads, self.window, self.v2 = heads, window, v2
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("index", relative[..., 0] * (2 * window - 1) + relative[..., 1], persistent=False)
        if v2:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))
            self.cpb = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, heads))
            self.register_buffer("table", relative.reshape(-1, 2).float() / window, persistent=False)
        else:
            self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))

    def forward(self, x, mask):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.v2:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=4.6).exp()
            bias = 16 * torch.sigmoid(self.cpb(self.table).view(n, n, -1).permute(2, 0, 1))
        else:
            attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
            bias = self.bias_table[self.index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        attn = attn.view(-1, mask.shape[0], self.heads, n, n).masked_fill(mask[None, :, None] != 0, -100.0)
        attn = attn.view(-1, self.heads, n, n).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, v2: bool):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window, v2)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        b, h, w, c = x.shape
        shifted = torch.roll(x, (-self.shift, -self.shift), dims=(1, 2)) if self.shift else x
        region = torch.zeros(h, w, device=x.device)
        if self.shift:
            for i, rows in enumerate((slice(0, -self.window), slice(-self.window, -self.shift),
                                      slice(-self.shift, None))):
                region[rows, :] += 3 * i
                region[:, rows] += i
        labels = window_partition(region[None, :, :, None], self.window).squeeze(-1)
        mask = labels[:, None, :] - labels[:, :, None]
        windows = self.attn(window_partition(self.norm1(shifted), self.window), mask)
        windows = windows.view(b, h // self.window, w // self.window, self.window, self.window, c)
        y = windows.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class Swin(nn.Module):
    """Patch embedding, a shifted-window pair, patch merging (strided slices, cat), classifier head."""

    def __init__(self, v2: bool = False, dim: int = 16, classes: int = 10):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, 4, stride=4)
        self.blocks = nn.Sequential(SwinBlock(dim, 2, 4, 0, v2), SwinBlock(dim, 2, 4, 2, v2))
        self.merge = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim)
        self.head = nn.Linear(2 * dim, classes)

    def forward(self, x):
        x = self.blocks(self.embed(x).permute(0, 2, 3, 1))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        x = self.norm(self.merge(x))
        return self.head(x.mean(dim=(1, 2)))


class ViT(nn.Module):
    """Patch embedding, class token, position embedding, nn.TransformerEncoder, head (torchvision's layout)."""

    def __init__(self, dim: int = 32, depth: int = 2, classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, stride=8)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 17, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.encoder(x)[:, 0])


class Attention(nn.Module):
    """nn.MultiheadAttention called with and without attention weights (the fused and reference paths)."""

    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        a = self.mha(x, x, x, need_weights=False)[0]
        b, weights = self.mha(a, a, a)
        return b + weights.sum()


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(24, 6, batch_first=True)

    def forward(self, x):
        return self.gru(self.lstm(x)[0])[0]


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.ReLU(),
                                nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2))

    def forward(self, x):
        return self.up(x)


class DetectorHead(nn.Module):
    """An RPN-style head with box decoding and top-k proposals, RoIAlign over them and a box classifier: the part
    of a two-stage detector whose shapes do not depend on the values."""

    def __init__(self, channels: int = 8, anchors: int = 3, proposals: int = 6, classes: int = 4):
        super().__init__()
        self.proposals = proposals
        self.backbone = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU())
        self.rpn = nn.Conv2d(channels, channels, 3, padding=1)
        self.objectness = nn.Conv2d(channels, anchors, 1)
        self.deltas = nn.Conv2d(channels, 4 * anchors, 1)
        self.box_head = nn.Sequential(nn.Flatten(), nn.Linear(channels * 4, 16), nn.ReLU(), nn.Linear(16, classes))

    def propose(self, features):
        hidden = F.relu(self.rpn(features))
        scores = self.objectness(hidden).flatten(1)
        deltas = self.deltas(hidden).view(features.shape[0], -1, 4)
        size = features.shape[-1]
        centers = torch.rand(deltas.shape[:2] + (2,), device=features.device) * size
        wh = torch.exp(deltas[..., 2:].clamp(max=4.0)) * 2.0
        boxes = torch.cat([centers + deltas[..., :2] - wh / 2, centers + deltas[..., :2] + wh / 2], -1)
        top = scores.topk(self.proposals, dim=1)
        chosen = boxes.gather(1, top.indices[..., None].expand(-1, -1, 4)).clamp(0, size)
        return chosen, top.values

    def forward(self, x):
        features = self.backbone(x)
        boxes, scores = self.propose(features)
        batch = torch.arange(x.shape[0], device=x.device, dtype=x.dtype).repeat_interleave(self.proposals)
        rois = torch.cat([batch[:, None], boxes.reshape(-1, 4)], 1)
        return self.box_head(roi_align(features, rois, 2)), scores


class TwoStageDetector(DetectorHead):
    """The head above with non-maximum suppression and score filtering: real inputs only (how many boxes survive
    depends on the values)."""

    def forward(self, x):
        features = self.backbone(x)
        boxes, scores = self.propose(features)
        sizes = boxes[0, :, 2:] - boxes[0, :, :2]
        keep = torch.nonzero((sizes > 1e-3).all(dim=1)).flatten()  # remove small boxes, as torchvision's RPN does
        keep = keep[nms(boxes[0, keep], scores[0, keep], 0.5)]
        rois = torch.cat([torch.zeros(len(keep), 1), boxes[0, keep]], 1)
        return self.box_head(roi_align(features, rois, 2))
