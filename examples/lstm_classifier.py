"""An LSTM classifies variable-length sequences: is the sum of the numbers positive?

Shows: a Dataset of variable-length sequences, a DataLoader with a collate_fn that pads a
batch (nn.utils.rnn.pad_sequence) and packs it (pack_padded_sequence with
enforce_sorted=False), nn.LSTM on the PackedSequence, the final hidden state (h_n) feeding a
linear head, BCEWithLogitsLoss, Adam and clip_grad_norm_. The only change from a PyTorch
program is `import ember as torch`.

Run: python examples/lstm_classifier.py [--quick]
"""

import argparse

import ember as torch
import ember.nn as nn
from ember.nn.utils.rnn import pack_padded_sequence, pad_sequence
from ember.utils.data import DataLoader, Dataset


class SignOfSum(Dataset):
    """Sequences of 3..20 numbers in [-1, 1); the label is 1.0 when their sum is positive."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        lengths = torch.randint(3, 21, (size,), generator=generator)
        self.sequences = [torch.rand(int(n), generator=generator) * 2 - 1 for n in lengths]
        self.labels = [(s.sum() > 0).float() for s in self.sequences]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple:
        return self.sequences[index], self.labels[index]


def collate(batch: list) -> tuple:
    sequences, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in sequences])
    padded = pad_sequence(sequences, batch_first=True).unsqueeze(-1)  # (B, T, 1)
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    return packed, torch.stack(labels)


class Classifier(nn.Module):
    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, packed):
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1]).squeeze(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="run a few steps only")
    args = parser.parse_args()
    epochs = 1 if args.quick else 12
    max_steps = 15 if args.quick else None

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    train = DataLoader(SignOfSum(2000, generator), batch_size=50, shuffle=True,
                       collate_fn=collate)
    test = DataLoader(SignOfSum(500, generator), batch_size=500, collate_fn=collate)

    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.BCEWithLogitsLoss()

    step = 0
    for _epoch in range(epochs):
        for packed, labels in train:
            optimizer.zero_grad()
            loss = criterion(model(packed), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            if step % 20 == 0 or (max_steps is not None and step % 3 == 0):
                print(f"loss {step} {loss.item():.4f}")
            step += 1
            if max_steps is not None and step >= max_steps:
                break

    with torch.no_grad():
        packed, labels = next(iter(test))
        logits = model(packed)
        print(f"loss {step} {criterion(logits, labels).item():.4f}")
        accuracy = ((logits > 0).float() == labels).float().mean().item()
    print(f"test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
