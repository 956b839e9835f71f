"""What is said about a run as a whole: its `explain` line, how finely it was read."""


def run_lines(name, epochs, batches, problems, has_train_eval):
    """What `explain` says about a run as a whole.

    Args:
      name: str, the run's name, as it is to be shown.
      epochs: int, how many epochs it recorded.
      batches: int, how many batches.
      problems: list of str, what could not be read.
      has_train_eval: bool, whether the training subset was evaluated.

    Returns:
      A list of str: "Run NAME: 6 epochs, 528 batches", then a note when
      there is no train_eval and one line per problem.
    """
    lines = [f"Run {name}: {epochs} epochs, {batches} batches"]
    if not has_train_eval:
        lines.append(
            "  (no train_eval recorded: pass train_eval_data= to "
            "EpochJumpCallback to measure the train-vs-inference mode gap)"
        )
    lines.extend(f"  problem: {problem}" for problem in problems)
    return lines


def resolution(batches_per_record):
    """How finely batches were recorded, in words.

    Args:
      batches_per_record: int, from `analysis.epoch_geometry.batches_per_record`.

    Returns:
      "batch" when every batch was recorded, else "chunks of up to N
      batches".
    """
    if batches_per_record <= 1:
        return "batch"
    return f"chunks of up to {batches_per_record} batches"
