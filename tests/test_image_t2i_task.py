"""The text-to-image training task cuts caption padding without changing the loss."""

import torch

from omniar.models.ar_model import AutoregressiveModel
from omniar.models.caption_encoder import PAD_ID, CaptionEncoder
from omniar.orders import RasterOrder
from omniar.training.ar_loss import autoregressive_loss
from omniar.training.tasks.image_t2i import TextToTokensModel, caption_condition


def test_cutting_caption_padding_keeps_the_loss_and_its_gradients():
    encoder = CaptionEncoder(hidden_size=16, num_layers=1, num_heads=2)
    transformer = AutoregressiveModel(vocab_size=9, hidden_size=32, num_layers=2, num_heads=4,
                                      rope_axes=2, condition="text", text_dim=16, adaln=True)
    model = TextToTokensModel(encoder, transformer)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    ids, mask = encoder.tokenize(["red apple", "cat", "grinning face"])
    padded = {"caption_ids": torch.cat([ids, torch.full((3, 7), PAD_ID)], 1),
              "caption_mask": torch.cat([mask, torch.zeros(3, 7, dtype=torch.bool)], 1)}
    order = RasterOrder((3, 3))
    tokens = torch.randint(0, 9, (3, 9))

    cut = caption_condition(padded)
    assert cut["caption_ids"].shape == (3, len("grinning face"))
    assert torch.equal(cut["caption_ids"], ids) and torch.equal(cut["caption_mask"], mask)

    losses, grads = [], []
    for condition in (padded, cut):
        model.zero_grad()
        loss, _ = autoregressive_loss(model, order, tokens, condition)
        loss.backward()
        losses.append(loss.detach())
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)
