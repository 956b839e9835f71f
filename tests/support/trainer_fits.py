"""A tiny Hugging Face Trainer fit on CPU that memorises random labels, for
tests of epochjump.transformers."""

import torch
import transformers

# Random inputs with random labels: nothing to generalise, only to memorise,
# so the loss drops when an epoch shows the same samples again.
SAMPLES, FEATURES, CLASSES = 512, 64, 8
BATCH, ACCUMULATION, EPOCHS, LOGGING_STEPS = 8, 2, 3, 5
STEPS = SAMPLES // (BATCH * ACCUMULATION)  # optimizer steps per epoch


class Samples(torch.utils.data.Dataset):
    def __init__(self, samples=SAMPLES):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(samples, FEATURES, generator=generator)
        self.labels = torch.randint(0, CLASSES, (samples,), generator=generator)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.labels[i]}


class Memoriser(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, CLASSES),
        )

    def forward(self, x, labels):
        logits = self.net(x)
        return {
            "loss": torch.nn.functional.cross_entropy(logits, labels),
            "logits": logits,
        }


class LossKeepingTrainer(transformers.Trainer):
    """Keeps every micro-batch's loss as compute_loss returns it."""

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        loss = super().compute_loss(model, inputs, return_outputs, **kwargs)
        if model.training:  # Evaluation asks for the outputs too.
            self.micro_batch_losses.append((self.state.global_step + 1, loss.item()))
        return loss


def train(tmp_path, callbacks, **overrides):
    torch.manual_seed(0)
    arguments = dict(
        output_dir=str(tmp_path / "trainer"),
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH,
        gradient_accumulation_steps=ACCUMULATION,
        learning_rate=1e-2,
        logging_steps=LOGGING_STEPS,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    arguments.update(overrides)
    trainer = LossKeepingTrainer(
        model=Memoriser(),
        args=transformers.TrainingArguments(**arguments),
        train_dataset=Samples(),
        eval_dataset=Samples(64),
        callbacks=callbacks,
    )
    trainer.micro_batch_losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # The same arithmetic whatever the machine.
    try:
        trainer.train()
    finally:
        torch.set_num_threads(threads)
    return trainer
