"""A small character-level GPT trained on a slice of tiny Shakespeare.

Shows: a decoder-only transformer written from nn.Embedding, nn.LayerNorm and nn.Linear with
causal F.scaled_dot_product_attention; AdamW with two parameter groups (weight decay on
matrices only, none on biases, norms and embeddings); a warmup-then-cosine learning-rate
schedule (LambdaLR); clip_grad_norm_; a checkpoint of model, optimizer and scheduler saved
with torch.save halfway and resumed with torch.load into fresh objects; sampling with
torch.multinomial before and after training. The text is examples/data/tinyshakespeare.txt.gz
(see examples/data/README.md). The only change from a PyTorch program is `import ember as torch`.

Run: python examples/char_gpt.py [--quick]
"""

import argparse
import gzip
import math
import tempfile
from pathlib import Path

import ember as torch
import ember.nn as nn
import ember.nn.functional as F

TEXT = Path(__file__).resolve().parent / "data" / "tinyshakespeare.txt.gz"


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, C // heads)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * n_embd, n_embd),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size: int, block_size: int, n_embd: int = 64, n_head: int = 4,
                 n_layer: int = 2) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T))
        logits = self.head(self.ln_f(self.blocks(x)))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    @torch.no_grad()
    def generate(self, idx, new_tokens: int, generator: torch.Generator):
        for _ in range(new_tokens):
            logits, _ = self(idx[:, -self.block_size:])
            probs = F.softmax(logits[:, -1], dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
        return idx


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "emb" in n]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def make_scheduler(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    args = parser.parse_args()
    steps = 16 if args.quick else 1000
    sample_len = 60 if args.quick else 200
    block_size, batch_size, lr = 32, 16, 3e-3

    with gzip.open(TEXT, "rt", encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]

    def decode(ids) -> str:
        return "".join(chars[i] for i in ids.tolist())

    def batch(source, generator):
        starts = torch.randint(len(source) - block_size - 1, (batch_size,), generator=generator)
        offsets = torch.arange(block_size)
        x = source[starts[:, None] + offsets]
        y = source[starts[:, None] + offsets + 1]
        return x, y

    torch.manual_seed(0)
    model = GPT(len(chars), block_size)
    optimizer = make_optimizer(model, lr)
    scheduler = make_scheduler(optimizer, warmup=steps // 10, total=steps)
    data_gen = torch.Generator().manual_seed(1)
    prompt = torch.tensor([[stoi["\n"]]])
    print(f"{sum(p.numel() for p in model.parameters())} parameters, {len(chars)} characters")
    print("sample before training:")
    print(decode(model.generate(prompt, sample_len, torch.Generator().manual_seed(2))[0]))

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "char_gpt.pt"
        step = 0
        while step < steps:
            if step == steps // 2:
                # Save everything needed to resume, then resume into brand-new objects.
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "step": step,
                            "data_gen": data_gen.get_state()}, checkpoint)
                state = torch.load(checkpoint)
                model = GPT(len(chars), block_size)
                model.load_state_dict(state["model"])
                optimizer = make_optimizer(model, lr)
                optimizer.load_state_dict(state["optimizer"])
                scheduler = make_scheduler(optimizer, warmup=steps // 10, total=steps)
                scheduler.load_state_dict(state["scheduler"])
                data_gen.set_state(state["data_gen"])
                step = state["step"]
                print(f"resumed from checkpoint at step {step}")

            x, y = batch(train_data, data_gen)
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            if step % max(1, steps // 20) == 0 or step == steps - 1:
                print(f"loss {step} {loss.item():.4f}")
            step += 1

    model.eval()
    with torch.no_grad():
        eval_gen = torch.Generator().manual_seed(3)
        val_loss = sum(model(*batch(val_data, eval_gen))[1].item() for _ in range(4)) / 4
    print(f"validation loss {val_loss:.4f}")
    print("sample after training:")
    print(decode(model.generate(prompt, sample_len, torch.Generator().manual_seed(2))[0]))


if __name__ == "__main__":
    main()
