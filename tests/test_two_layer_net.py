"""two_layer_net through the public interface (grader.api.grade and the CLI), as tables.

The solution and the course's own conventions earn full marks; the stub and
submissions that do no work earn nothing beyond real structure; each typical bug is
a one-line mutant of the solution that fails exactly the checks it really breaks,
each with its exact hint (None where no cause can honestly be named), and the score
partial credit gives.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Iterator

import numpy as np
import pytest

from conftest import ROOT, failing, mutate, solution_source, stub_source
from grader import api, reference
from grader.registry import get_assignment

A = "two_layer_net"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score - sum(c.points for c in ASSIGNMENT.checks if c.requires == "cuda")  # 98 without a GPU

# -- the mutants: one line of the solution, and what it becomes ---------------------------------
# The patterns come from the mistakes real students of the upstream course make (public
# solutions of EECS 498-007/598-005 A2, graded as a measurement; none is copied here).
LOG_SOFTMAX = "log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()"
LOSS = "loss = -log_probs[rows, y].mean() + reg * (W1.pow(2).sum() + W2.pow(2).sum())"
MUTANTS = {
    "no_mean_over_N": ("    dscores /= N\n", ""),
    "reg_missing_from_loss": (LOSS, "loss = -log_probs[rows, y].mean()"),
    "loss_summed_not_averaged": ("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()"),
    "reg_grad_missing": ("grads['W2'] = hidden.t().mm(dscores) + 2 * reg * W2", "grads['W2'] = hidden.t().mm(dscores)"),
    "reg_grad_halved": ("grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1", "grads['W1'] = X.t().mm(dhidden) + reg * W1"),
    "bias_regularized": ("grads['b2'] = dscores.sum(dim=0)",
                         "grads['b2'] = dscores.sum(dim=0) + 2 * reg * params['b2']"),
    "relu_mask_missing": ("dhidden = dscores.mm(W2.t()) * (hidden > 0)", "dhidden = dscores.mm(W2.t())"),
    "dW2_transposed": ("grads['W2'] = hidden.t().mm(dscores) + 2 * reg * W2",
                       "grads['W2'] = dscores.t().mm(hidden) + 2 * reg * W2.t()"),
    "db1_wrong_axis": ("grads['b1'] = dhidden.sum(dim=0)", "grads['b1'] = dhidden.sum(dim=1)"),
    "grad_sign_flipped": ("    dscores /= N\n", "    dscores /= -N\n"),
    "unstable_softmax": ("shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores"),
    "global_max_softmax": ("shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores - scores.max()"),
    "log_of_probabilities": (LOG_SOFTMAX, "log_probs = (shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)).log()"),
    "epsilon_in_softmax": (LOG_SOFTMAX,
                           "log_probs = (shifted.exp() / shifted.exp().sum(dim=1, keepdim=True) + 1e-8).log()"),
    "zero_times_log_zero": (LOSS, "loss = -(torch.nn.functional.one_hot(y, scores.shape[1]) * log_probs.exp().log())"
                                  ".sum() / N + reg * (W1.pow(2).sum() + W2.pow(2).sum())"),
    "scores_of_all_labels": (LOSS, "loss = -log_probs[:, y].mean() + reg * (W1.pow(2).sum() + W2.pow(2).sum())"),
    "one_hot_without_num_classes": ("    dscores[rows, y] -= 1\n",
                                    "    dscores = dscores - torch.nn.functional.one_hot(y).to(dscores.dtype)\n"),
    "sigmoid_for_relu": ("hidden = (X.mm(W1) + b1).clamp(min=0)", "hidden = torch.sigmoid(X.mm(W1) + b1)"),
    "b2_missing_in_forward": ("scores = hidden.mm(W2) + b2", "scores = hidden.mm(W2)"),
    "params_modified_in_place": ("grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1",
                                 "grads['W1'] = W1.mul_(2 * reg).add_(X.t().mm(dhidden))"),
    "float32_hard_coded": ("dscores = log_probs.exp()",
                           "dscores = torch.as_tensor(log_probs.exp(), dtype=torch.float32)"),
    "all_in_float32": ("    W1, W2 = params['W1'], params['W2']\n    scores, hidden",
                       "    params, X = {k: v.float() for k, v in params.items()}, X.float()\n"
                       "    W1, W2 = params['W1'], params['W2']\n    scores, hidden"),
    "update_goes_uphill": ("params[name] -= learning_rate * grads[name]",
                           "params[name] += learning_rate * grads[name]"),
    "no_lr_decay": ("            learning_rate *= learning_rate_decay\n", ""),
    "lr_decay_every_iteration": ("            learning_rate *= learning_rate_decay\n",
                                 "        learning_rate *= learning_rate_decay\n"),
    "verbose_ignored": ("if verbose and it % 100 == 0:", "if it % 100 == 0:"),
    "batch_without_replacement": ("idx = torch.randint(num_train, (batch_size,), device=X.device)",
                                  "idx = torch.randperm(num_train, device=X.device)[:batch_size]"),
    "batch_from_numpy_rng": ("idx = torch.randint(num_train, (batch_size,), device=X.device)",
                             "import numpy; idx = torch.as_tensor(numpy.random.randint(num_train, size=batch_size))"),
    "predict_returns_scores": ("return loss_func(params, X).argmax(dim=1)", "return loss_func(params, X)"),
    "load_does_not_restore": ("self.params = {name: state[name] for name in ('W1', 'b1', 'W2', 'b2')}",
                              "state = {name: state[name] for name in ('W1', 'b1', 'W2', 'b2')}"),
    # the course's own conventions: full marks
    "predict_via_forward_pass": ("return loss_func(params, X).argmax(dim=1)",
                                 "return nn_forward_pass(params, X)[0].argmax(dim=1)"),
    "default_device_cuda": ("device: Union[str, torch.device] = 'cpu',", "device: Union[str, torch.device] = 'cuda',"),
    "course_load_to_cpu": ("state = torch.load(path, map_location=None, weights_only=True)",
                           "state = torch.load(path, map_location='cpu'); print('load checkpoint file:', path)"),
}


def first(check: str) -> str:
    """The hint of a check whose prerequisite failed (``after`` in the toml)."""
    return f"fix {check} first: this check depends on it"


PAYS = ("this check pays only when nn_forward_backward's loss and grads are also right: fix those first "
        "(loss_with_reg, grads_vs_reference).")
DISAGREE = ("your loss is right but your gradients do not match its slope: the backward pass and the forward pass "
            "disagree (check each step of the chain rule against the forward code).")
OVERFLOW = ("inf/NaN where the reference is finite: scores here reach {top}, and exp() of a score above 709 "
            "overflows in float64. Subtract each row's maximum score before exponentiating (a numerically stable "
            "softmax).")
RELU_MASK = ("the ReLU mask is missing in the backward pass: the gradient flows through hidden units that were off "
             "(hidden <= 0). Multiply the upstream gradient by (hidden > 0).")
MIXED = ("float32 and float64 tensors were mixed: a tensor created with a hard-coded dtype (e.g. dtype=torch.float32) "
         "met the float64 inputs. Create new tensors with dtype=X.dtype (or *_like functions).")
TRAINING = {"toy_training_loss": first("loss_no_reg"), "toy_training_trajectory": first("loss_no_reg"),
            "digits_val_accuracy": first("toy_training_loss")}


def error(hint: str | None) -> tuple[str, str | None]:
    """A check whose call raised: status error, with this hint."""
    return ("error", hint)


# Every check a mutant does not pass, with its exact hint (None: no cause can honestly be named;
# error(...): the call raised), and the score with partial credit. A check not listed passes.
EXPECTED = {
    'no_mean_over_N': (56.1333, {
        'grads_vs_reference': ("grads['b1'] is 5x the reference everywhere and N = 5: you summed over the batch; "
                               'divide by N to take the mean over the batch.'),
        'grads_vs_numeric': ('your gradients are 5x the slope of your loss (N = 5): divide the gradients by N, as '
                             'the loss averages over the batch.'),
        'loss_and_grads_random': ("grads['b1'] is 31x the reference everywhere and N = 31: you summed over the "
                                  'batch; divide by N to take the mean over the batch.'),
        'edge_batches': first('grads_vs_reference'),
        'large_scores_stable': ("grads['W1'] is 6x the reference everywhere and N = 6: you summed over the batch; "
                                'divide by N to take the mean over the batch.'),
        'tiny_probabilities': ("grads['W1'] is 6x the reference everywhere and N = 6: you summed over the batch; "
                               'divide by N to take the mean over the batch.'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['b1'] is 5x the reference everywhere and N = 5: you summed over the batch; "
                              'divide by N to take the mean over the batch.'),
        'toy_training_loss': first('grads_vs_reference'),
        'toy_training_trajectory': first('grads_vs_reference'),
        'twolayernet_methods': first('grads_vs_reference'),
        'digits_val_accuracy': first('toy_training_loss'),
    }),
    'reg_missing_from_loss': (80.7000, {
        'loss_with_reg': 'the regularization term is missing from the loss: add reg * (sum(W1**2) + sum(W2**2)).',
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': ('the regularization term is missing from the loss: add reg * (sum(W1**2) + '
                                  'sum(W2**2)).'),
        'edge_batches': first('loss_with_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'float32_preserved': 'the regularization term is missing from the loss: add reg * (sum(W1**2) + sum(W2**2)).',
        'twolayernet_methods': first('loss_with_reg'),
    }),
    'loss_summed_not_averaged': (72.8667, {
        'loss_no_reg': 'the loss is summed over the batch instead of averaged: divide the data loss by N = 5.',
        'loss_with_reg': 'the loss is summed over the batch instead of averaged: divide the data loss by N = 5.',
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': ('the loss is summed over the batch instead of averaged: divide the data loss by N '
                                  '= 31.'),
        'edge_batches': first('loss_no_reg'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'float32_preserved': 'the loss is summed over the batch instead of averaged: divide the data loss by N = 5.',
        'toy_training_trajectory': first('loss_no_reg'),
        'twolayernet_methods': first('loss_with_reg'),
    }),
    'reg_grad_missing': (86.8666, {
        'grads_vs_reference': ("grads['W2'] is missing the regularization gradient: d/dW of reg * sum(W**2) is 2 * "
                               'reg * W; add it.'),
        'grads_vs_numeric': 'your loss includes reg * sum(W**2) but your gradients lack its slope 2 * reg * W.',
        'loss_and_grads_random': ("grads['W2'] is missing the regularization gradient: d/dW of reg * sum(W**2) is 2 "
                                  '* reg * W; add it.'),
        'edge_batches': first('grads_vs_reference'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['W2'] is missing the regularization gradient: d/dW of reg * sum(W**2) is 2 * "
                              'reg * W; add it.'),
        'twolayernet_methods': first('grads_vs_reference'),
    }),
    'reg_grad_halved': (86.8666, {
        'grads_vs_reference': ("grads['W1']: the regularization gradient is off by a factor 2: the loss uses reg * "
                               'sum(W**2) with no 0.5, so its gradient is 2 * reg * W, not reg * W.'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ("grads['W1']: the regularization gradient is off by a factor 2: the loss uses reg "
                                  '* sum(W**2) with no 0.5, so its gradient is 2 * reg * W, not reg * W.'),
        'edge_batches': first('grads_vs_reference'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['W1']: the regularization gradient is off by a factor 2: the loss uses reg * "
                              'sum(W**2) with no 0.5, so its gradient is 2 * reg * W, not reg * W.'),
        'twolayernet_methods': first('grads_vs_reference'),
    }),
    'bias_regularized': (87.6166, {
        'grads_vs_reference': ('biases are regularized here, but the loss regularizes only W1 and W2: drop the reg '
                               'term from the bias gradients.'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ('biases are regularized here, but the loss regularizes only W1 and W2: drop the '
                                  'reg term from the bias gradients.'),
        'edge_batches': first('grads_vs_reference'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ('biases are regularized here, but the loss regularizes only W1 and W2: drop the reg '
                              'term from the bias gradients.'),
        'twolayernet_methods': first('grads_vs_reference'),
    }),
    'relu_mask_missing': (79.7834, {
        'grads_vs_reference': ('the ReLU mask is missing in the backward pass: the gradient flows through hidden '
                               'units that were off (hidden <= 0). Multiply the upstream gradient by (hidden > 0).'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ('the ReLU mask is missing in the backward pass: the gradient flows through hidden '
                                  'units that were off (hidden <= 0). Multiply the upstream gradient by (hidden > '
                                  '0).'),
        'edge_batches': first('grads_vs_reference'),
        'large_scores_stable': ('the ReLU mask is missing in the backward pass: the gradient flows through hidden '
                                'units that were off (hidden <= 0). Multiply the upstream gradient by (hidden > 0).'),
        'tiny_probabilities': ('the ReLU mask is missing in the backward pass: the gradient flows through hidden '
                               'units that were off (hidden <= 0). Multiply the upstream gradient by (hidden > 0).'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ('the ReLU mask is missing in the backward pass: the gradient flows through hidden '
                              'units that were off (hidden <= 0). Multiply the upstream gradient by (hidden > 0).'),
        'twolayernet_methods': first('grads_vs_reference'),
    }),
    'dW2_transposed': (74.1416, {
        'grads_vs_reference': ("grads['W2'] holds the right numbers in the transposed layout (3, 10): check the "
                               'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ("grads['W2'] holds the right numbers in the transposed layout (7, 19): check the "
                                  'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'),
        'edge_batches': first('grads_vs_reference'),
        'large_scores_stable': ("grads['W2'] holds the right numbers in the transposed layout (4, 8): check the "
                                'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'),
        'tiny_probabilities': ("grads['W2'] holds the right numbers in the transposed layout (4, 7): check the order"
                               ' of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['W2'] holds the right numbers in the transposed layout (3, 10): check the order"
                              ' of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'),
        'toy_training_loss': error(first('grads_vs_reference')),
        'toy_training_trajectory': error(first('grads_vs_reference')),
        'twolayernet_methods': first('grads_vs_reference'),
        'digits_val_accuracy': error(first('toy_training_loss')),
    }),
    'db1_wrong_axis': (74.1416, {
        'grads_vs_reference': ("grads['b1'] has one entry per example (shape (5,)) instead of one per unit (10,): "
                               'sum over the batch axis (dim=0), not over the units.'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ("grads['b1'] has one entry per example (shape (31,)) instead of one per unit "
                                  '(19,): sum over the batch axis (dim=0), not over the units.'),
        'edge_batches': first('grads_vs_reference'),
        'large_scores_stable': ("grads['b1'] has one entry per example (shape (6,)) instead of one per unit (8,): "
                                'sum over the batch axis (dim=0), not over the units.'),
        'tiny_probabilities': ("grads['b1'] has one entry per example (shape (6,)) instead of one per unit (7,): sum"
                               ' over the batch axis (dim=0), not over the units.'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['b1'] has one entry per example (shape (5,)) instead of one per unit (10,): sum"
                              ' over the batch axis (dim=0), not over the units.'),
        'toy_training_loss': error(first('grads_vs_reference')),
        'toy_training_trajectory': error(first('grads_vs_reference')),
        'twolayernet_methods': first('grads_vs_reference'),
        'digits_val_accuracy': error(first('toy_training_loss')),
    }),
    'grad_sign_flipped': (55.0666, {
        'grads_vs_reference': ("grads['b1'] has the right size but the wrong sign everywhere: check the sign of the "
                               'gradient.'),
        'grads_vs_numeric': ('your loss is right but your gradients do not match its slope: the backward pass and '
                             'the forward pass disagree (check each step of the chain rule against the forward '
                             'code).'),
        'loss_and_grads_random': ("grads['b1'] has the right size but the wrong sign everywhere: check the sign of "
                                  'the gradient.'),
        'edge_batches': first('grads_vs_reference'),
        'large_scores_stable': ("grads['W1'] has the right size but the wrong sign everywhere: check the sign of the"
                                ' gradient.'),
        'tiny_probabilities': ("grads['W1'] has the right size but the wrong sign everywhere: check the sign of the "
                               'gradient.'),
        'inputs_not_modified': first('grads_vs_reference'),
        'no_autograd': first('grads_vs_reference'),
        'float32_preserved': ("grads['b1'] has the right size but the wrong sign everywhere: check the sign of the "
                              'gradient.'),
        'toy_training_loss': first('grads_vs_reference'),
        'toy_training_trajectory': first('grads_vs_reference'),
        'twolayernet_methods': first('grads_vs_reference'),
        'digits_val_accuracy': first('toy_training_loss'),
    }),
    'unstable_softmax': (95.0000, {
        'large_scores_stable': ('inf/NaN where the reference is finite: scores here reach 3089, and exp() of a score'
                                " above 709 overflows in float64. Subtract each row's maximum score before "
                                'exponentiating (a numerically stable softmax).'),
    }),
    'global_max_softmax': (96.5000, {
        'large_scores_stable': ('your softmax survives large scores of one size but not rows whose maxima differ by '
                                "thousands: subtract each row's own maximum (scores.max(dim=1, keepdim=True)), not "
                                'one maximum of the whole batch, which leaves rows far below it at exp() = 0 and 0 /'
                                ' 0.'),
    }),
    'log_of_probabilities': (97.5000, {
        'tiny_probabilities': ('the loss is inf: scores in a row here are about 968 apart, so a softmax probability '
                               'underflows to 0 and log(0) = -inf. Compute the log-probabilities as a log-softmax, '
                               'shifted - log(sum(exp(shifted))), instead of taking the log of the probabilities.'),
    }),
    'epsilon_in_softmax': (68.8666, {
        'loss_no_reg': ('the loss is off by about the size of an epsilon: it matches log(p + 1e-08). The softmax '
                        'cross-entropy needs no epsilon when it is computed as a log-softmax (shifted - '
                        'log(sum(exp(shifted)))); drop it.'),
        'loss_with_reg': ('the loss is off by about the size of an epsilon: it matches log(p + 1e-08). The softmax '
                          'cross-entropy needs no epsilon when it is computed as a log-softmax (shifted - '
                          'log(sum(exp(shifted)))); drop it.'),
        'grads_vs_reference': None,
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': ('the loss is off by about the size of an epsilon: it matches log(p + 1e-08). The '
                                  'softmax cross-entropy needs no epsilon when it is computed as a log-softmax '
                                  '(shifted - log(sum(exp(shifted)))); drop it.'),
        'edge_batches': first('loss_no_reg'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'twolayernet_methods': first('loss_with_reg'),
    }),
    'zero_times_log_zero': (97.5000, {
        'tiny_probabilities': ('the loss is NaN: scores in a row here are about 968 apart (no exp() overflows), so a'
                               ' softmax probability underflows to 0, and 0 * log(0) is NaN (e.g. sum(one_hot * '
                               "log(probs))). Take only the correct class's log-probability, log_probs[arange(N), "
                               'y], from a log-softmax.'),
    }),
    'scores_of_all_labels': (72.8667, {
        'loss_no_reg': ("the loss picks scores[:, y] (an N x N block: every row's score for every label) instead of "
                        'one score per row: index with scores[torch.arange(N), y].'),
        'loss_with_reg': ("the loss picks scores[:, y] (an N x N block: every row's score for every label) instead "
                          'of one score per row: index with scores[torch.arange(N), y].'),
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': ("the loss picks scores[:, y] (an N x N block: every row's score for every label) "
                                  'instead of one score per row: index with scores[torch.arange(N), y].'),
        'edge_batches': first('loss_no_reg'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'float32_preserved': ("the loss picks scores[:, y] (an N x N block: every row's score for every label) "
                              'instead of one score per row: index with scores[torch.arange(N), y].'),
        'toy_training_trajectory': first('loss_no_reg'),
        'twolayernet_methods': first('loss_with_reg'),
    }),
    'one_hot_without_num_classes': (93.8333, {
        'edge_batches': ('this batch has no example of class 4 (C = 5), and a tensor came out 3 wide: one_hot(y) '
                         'without num_classes makes max(y) + 1 columns. Pass num_classes=C (scores.shape[1]).'),
        'large_scores_stable': ('this batch has no example of class 3 (C = 4), and a tensor came out 3 wide: '
                                'one_hot(y) without num_classes makes max(y) + 1 columns. Pass num_classes=C '
                                '(scores.shape[1]).'),
    }),
    'sigmoid_for_relu': (32.1250, {
        'forward_pass_toy': ('the hidden layer uses a sigmoid; this network uses a ReLU there: hidden = max(0, X @ '
                             'W1 + b1) (e.g. (X.mm(W1) + b1).clamp(min=0)).'),
        'forward_pass_random': ('the hidden layer uses a sigmoid; this network uses a ReLU there: hidden = max(0, X '
                                '@ W1 + b1) (e.g. (X.mm(W1) + b1).clamp(min=0)).'),
        'scores_when_y_is_none': ('the hidden layer uses a sigmoid; this network uses a ReLU there: hidden = max(0, '
                                  'X @ W1 + b1) (e.g. (X.mm(W1) + b1).clamp(min=0)).'),
        'loss_no_reg': first('forward_pass_toy'),
        'loss_with_reg': first('forward_pass_toy'),
        'grads_vs_reference': first('forward_pass_toy'),
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': first('forward_pass_toy'),
        'edge_batches': first('forward_pass_toy'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'float32_preserved': first('forward_pass_toy'),
        'nn_predict_labels': first('forward_pass_toy'),
        'toy_training_trajectory': first('loss_no_reg'),
        'twolayernet_methods': first('scores_when_y_is_none'),
    }),
    'b2_missing_in_forward': (41.5000, {
        'forward_pass_random': 'b2 is missing from the scores: scores = hidden @ W2 + b2.',
        'scores_when_y_is_none': 'b2 is missing from the scores: scores = hidden @ W2 + b2.',
        'loss_no_reg': first('scores_when_y_is_none'),
        'loss_with_reg': first('scores_when_y_is_none'),
        'grads_vs_reference': first('scores_when_y_is_none'),
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': first('scores_when_y_is_none'),
        'edge_batches': first('scores_when_y_is_none'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'float32_preserved': first('scores_when_y_is_none'),
        'toy_training_trajectory': first('loss_no_reg'),
        'twolayernet_methods': first('scores_when_y_is_none'),
    }),
    'params_modified_in_place': (83.2500, {
        'inputs_not_modified': ('an in-place operation (+=, -=, *=, .add_(), .mul_(), slice assignment) modified an '
                                'input: build new tensors instead (e.g. dscores = probs.clone(), then modify the '
                                'copy).'),
        'toy_training_loss': first('inputs_not_modified'),
        'toy_training_trajectory': first('inputs_not_modified'),
        'twolayernet_methods': first('inputs_not_modified'),
        'digits_val_accuracy': first('toy_training_loss'),
    }),
    'float32_hard_coded': (50.5000, {
        'loss_no_reg': error(('float32 and float64 tensors were mixed: a tensor created with a hard-coded dtype '
                              '(e.g. dtype=torch.float32) met the float64 inputs. Create new tensors with '
                              'dtype=X.dtype (or *_like functions).')),
        'loss_with_reg': error(('float32 and float64 tensors were mixed: a tensor created with a hard-coded dtype '
                                '(e.g. dtype=torch.float32) met the float64 inputs. Create new tensors with '
                                'dtype=X.dtype (or *_like functions).')),
        'grads_vs_reference': error(('float32 and float64 tensors were mixed: a tensor created with a hard-coded '
                                     'dtype (e.g. dtype=torch.float32) met the float64 inputs. Create new tensors '
                                     'with dtype=X.dtype (or *_like functions).')),
        'grads_vs_numeric': error(first('loss_with_reg')),
        'loss_and_grads_random': error(('float32 and float64 tensors were mixed: a tensor created with a hard-coded '
                                        'dtype (e.g. dtype=torch.float32) met the float64 inputs. Create new tensors'
                                        ' with dtype=X.dtype (or *_like functions).')),
        'edge_batches': first('loss_no_reg'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': error(first('loss_no_reg')),
        'inputs_not_modified': error(first('loss_with_reg')),
        'no_autograd': error(first('loss_with_reg')),
        'toy_training_loss': error(first('loss_no_reg')),
        'toy_training_trajectory': error(first('loss_no_reg')),
        'twolayernet_methods': first('loss_with_reg'),
    }),
    'all_in_float32': (53.7500, {
        'scores_when_y_is_none': ('nn_forward_backward(params, X) is right only to float32 precision (rel_error '
                                  "3e-08): part of the computation ran in float32. Keep the inputs' dtype (float64) "
                                  'throughout: no .float(), no dtype=torch.float32.'),
        'loss_no_reg': first('scores_when_y_is_none'),
        'loss_with_reg': first('scores_when_y_is_none'),
        'grads_vs_reference': first('scores_when_y_is_none'),
        'grads_vs_numeric': first('loss_with_reg'),
        'loss_and_grads_random': first('scores_when_y_is_none'),
        'edge_batches': first('scores_when_y_is_none'),
        'large_scores_stable': first('loss_no_reg'),
        'tiny_probabilities': first('loss_no_reg'),
        'inputs_not_modified': first('loss_with_reg'),
        'no_autograd': first('loss_with_reg'),
        'twolayernet_methods': first('scores_when_y_is_none'),
    }),
    'update_goes_uphill': (81.2500, {
        'nn_train_sgd_update': ('the update goes uphill: subtract the gradient (params[k] -= learning_rate * '
                                'grads[k]).'),
        'toy_training_loss': first('nn_train_sgd_update'),
        'toy_training_trajectory': first('nn_train_sgd_update'),
        'twolayernet_methods': first('nn_train_sgd_update'),
        'digits_val_accuracy': first('toy_training_loss'),
    }),
    'no_lr_decay': (91.2500, {
        'nn_train_lr_decay': ('the learning rate never decays: multiply it by learning_rate_decay when it % '
                              'iterations_per_epoch == 0.'),
        'toy_training_trajectory': first('nn_train_lr_decay'),
        'twolayernet_methods': first('nn_train_lr_decay'),
    }),
    'lr_decay_every_iteration': (90.0000, {
        'nn_train_lr_decay': ('the learning rate decays every iteration; decay it only at epoch boundaries (it % '
                              'iterations_per_epoch == 0).'),
        'digits_val_accuracy': first('nn_train_lr_decay'),
    }),
    'verbose_ignored': (96.0000, {
        'nn_train_quiet': 'print progress only when verbose is True.',
    }),
    'batch_without_replacement': (90.2500, {
        'sample_batch': ('only 12 rows came back for batch_size 30: sampling without replacement (e.g. '
                         'torch.randperm) cannot draw more rows than there are. Draw indices with replacement: '
                         'torch.randint(num_train, (batch_size,)).'),
        'toy_training_trajectory': first('sample_batch'),
        'twolayernet_methods': first('sample_batch'),
    }),
    'batch_from_numpy_rng': (90.2500, {
        'sample_batch': ('draw the indices with torch.randint so torch.manual_seed makes them repeatable (not '
                         "random/numpy, which torch's seed does not control)."),
        'toy_training_trajectory': first('sample_batch'),
        'twolayernet_methods': first('sample_batch'),
    }),
    'predict_returns_scores': (80.5000, {
        'nn_predict_labels': 'return the argmax class of each row: scores.argmax(dim=1).',
        'toy_training_loss': error(first('nn_predict_labels')),
        'toy_training_trajectory': error(first('nn_predict_labels')),
        'twolayernet_methods': first('nn_predict_labels'),
        'digits_val_accuracy': error(first('toy_training_loss')),
    }),
    'load_does_not_restore': (95.0000, {
        'twolayernet_save_load': ('load must restore what save wrote: self.params = torch.load(path) (and save must '
                                  'write self.params: torch.save(self.params, path)).'),
    }),
}
FULL_MARKS = ['predict_via_forward_pass', 'default_device_cuda', 'course_load_to_cpu']


def mutant_source(name: str) -> str:
    old, new = MUTANTS[name]
    return mutate(solution_source(A), old, new)


@pytest.fixture(scope="module")
def graded_mutants() -> dict:
    return {}


@pytest.fixture
def grade_mutant(grade_source, graded_mutants, tmp_path):
    """grade_mutant(name) -> (Report, folder of its report files); each mutant is graded once per run."""

    def grade(name: str):
        if name not in graded_mutants:
            out = tmp_path / "reports"
            graded_mutants[name] = grade_source(A, mutant_source(name), student="bob", out=out), out
        return graded_mutants[name]

    return grade


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


def outcomes(report) -> dict:
    """check -> hint (failed) or ("error", hint), for every check that did not pass."""
    return {c.name: c.hint if c.status == "failed" else (c.status, c.hint)
            for c in report.checks if c.status not in ("passed", "skipped")}


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    pytest.param(lambda: solution_source(A), id="solution"),
    pytest.param(lambda: (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text(), id="alice"),
])
def test_correct_submission_earns_full_marks(grade_source, source):
    report = grade_source(A, source())
    assert failing(report) == {}
    assert report.score == report.max_score == FULL
    assert {c.name for c in report.checks if c.status == "skipped"} == {
        c.name for c in ASSIGNMENT.checks if c.requires == "cuda"}


@pytest.mark.parametrize("mutant", FULL_MARKS)
def test_course_conventions_earn_full_marks(grade_mutant, mutant):
    """nn_predict through nn_forward_pass, the template's device='cuda' default, its load to the CPU."""
    report, _ = grade_mutant(mutant)
    assert failing(report) == {} and report.score == FULL


def test_stub_earns_zero_without_crashing(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    counted = [c for c in report.checks if c.status != "skipped"]
    assert len(counted) == sum(c.requires != "cuda" for c in ASSIGNMENT.checks)
    assert all(c.status == "error" and "not implemented yet" in c.message for c in counted)


# -- no work, no points -------------------------------------------------------------------------
def do_nothing_source(fill: str, init: str) -> str:
    """Every graded name returns values of the right shapes and does no work: ``fill``
    is torch.zeros or torch.randn; the class builds its parameters with ``init`` and
    delegates to the functions, as the template does; save/load keep nothing."""
    return f"""
import torch

def _fill(*shape, like):
    return {fill}(*shape, dtype=like.dtype, device=like.device)

def nn_forward_pass(params, X):
    return _fill(X.shape[0], params["W2"].shape[1], like=X), _fill(X.shape[0], params["W1"].shape[1], like=X)

def nn_forward_backward(params, X, y=None, reg=0.0):
    if y is None:
        return nn_forward_pass(params, X)[0]
    return _fill(1, like=X).reshape(()), {{k: _fill(*v.shape, like=v) for k, v in params.items()}}

def sample_batch(X, y, num_train, batch_size):
    return _fill(batch_size, X.shape[1], like=X), torch.zeros(batch_size, dtype=y.dtype, device=y.device)

def nn_train(params, loss_func, pred_func, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    epochs = len([it for it in range(num_iters) if it % max(X.shape[0] // batch_size, 1) == 0])
    return {{"loss_history": [0.0] * num_iters, "train_acc_history": [0.0] * epochs, "val_acc_history": [0.0] * epochs}}

def nn_predict(params, loss_func, X):
    return torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)

class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, dtype=torch.float32, device="cpu", std=1e-4):
        D, H, C = input_size, hidden_size, output_size
        self.params = {{"W1": std * {init}(D, H, dtype=dtype, device=device), "b1": torch.zeros(H, dtype=dtype, device=device),
                       "W2": std * {init}(H, C, dtype=dtype, device=device), "b2": torch.zeros(C, dtype=dtype, device=device)}}
    def loss(self, X, y=None, reg=0.0):
        return nn_forward_backward(self.params, X, y, reg)
    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6, num_iters=100,
              batch_size=200, verbose=False):
        return nn_train(self.params, nn_forward_backward, nn_predict, X, y, X_val, y_val, learning_rate,
                        learning_rate_decay, reg, num_iters, batch_size, verbose)
    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)
    def save(self, path):
        pass
    def load(self, path):
        self.params = {{}}
"""


# Probes replaced inside the child by ones that return what the old judges took on trust
# (summaries, flags, an accuracy, a loss curve), with no answer computed.
FORGED_PROBES = '''
import sys as _sys, torch as _torch
_p = _sys.modules.get("_assignment_probes")
def _zeros(params):
    return {k: _torch.zeros(_torch.as_tensor(v).shape, dtype=_torch.float64) for k, v in params.items()}
def _inputs_after_call(student, inputs, ctx):
    return {"params": {k: _torch.as_tensor(v) for k, v in inputs["params"].items()}, "X": _torch.as_tensor(inputs["X"]),
            "y": _torch.as_tensor(inputs["y"]), "out": (_torch.tensor(0.0), _zeros(inputs["params"]))}
def _autograd_use(student, inputs, ctx):
    return {"used": [], "out": (_torch.tensor(0.0), _zeros(inputs["params"]))}
def _numeric(student, inputs, ctx):
    return {"loss": _torch.tensor(0.0), "analytic": _zeros(inputs["params"]), "numeric": _zeros(inputs["params"])}
def _quiet(student, inputs, ctx):
    return {"quiet": "", "verbose": "iteration 0 / 201: loss 1.0", "loss_history": [0.0] * 201}
def _toy(student, inputs, ctx):
    return {"loss_history": [0.5] * 200, "final_params": {}}
def _init(student, inputs, ctx):
    D, H, C = inputs["sizes"]
    summary = lambda std: {k: {"shape": s, "dtype": "float32", "device": "cpu", "std": std, "max_abs": 0.0}
                           for k, s in (("W1", [D, H]), ("b1", [H]), ("W2", [H, C]), ("b2", [C]))}
    return {"default": summary(1e-4), "float64": summary(0.1), "device_default": "'cpu'"}
def _save_load(student, inputs, ctx):
    return {"saved": {}, "loaded": {}, "before": None}
def _digits(student, inputs, ctx):
    return {"val_acc": 0.99, "data": "digits", "loss_history": [], "predictions": _torch.zeros(3, dtype=_torch.int64)}
if _p is not None:
    for _name, _fake in (("inputs_after_call", _inputs_after_call), ("autograd_use", _autograd_use),
                         ("analytic_and_numeric", _numeric), ("train_verbose", _quiet), ("toy_training", _toy),
                         ("net_init", _init), ("save_load", _save_load), ("digits_training", _digits)):
        setattr(_p, _name, _fake)
'''

# What work-free code may still earn: the architecture of a class that builds its
# parameters right (std * randn), nothing else.
STRUCTURE = {"twolayernet_init"}


@pytest.mark.parametrize("source, earns", [
    pytest.param(lambda: do_nothing_source("torch.zeros", "torch.randn"), STRUCTURE, id="zeros"),
    pytest.param(lambda: do_nothing_source("torch.randn", "torch.randn"), STRUCTURE, id="noise"),
    pytest.param(lambda: do_nothing_source("torch.zeros", "torch.zeros"), set(), id="zeros_everywhere"),
    pytest.param(lambda: stub_source(A) + FORGED_PROBES, set(), id="stub_with_forged_probes"),
])
def test_no_work_earns_no_points(grade_source, source, earns):
    report = grade_source(A, source())
    assert not report.grader_errors, report.grader_errors
    paid = {c.name for c in report.checks if c.score > 0}
    assert paid == earns, {c.name: c.message[:200] for c in report.checks if c.name in paid ^ earns}
    assert report.score == sum(POINTS[n] for n in earns)


# -- one-line mutants: every failing check, with its exact hint ---------------------------------
@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_fails_exactly_its_checks_with_exact_hints(grade_mutant, mutant):
    report, _ = grade_mutant(mutant)
    score, want = EXPECTED[mutant]
    got = outcomes(report)
    problems = [f"{name}: expected {want.get(name, 'passed')!r}, got {got.get(name, 'passed')!r}"
                for name in sorted(set(got) | set(want)) if got.get(name, "passed") != want.get(name, "passed")]
    if abs(report.score - score) > 1e-3:
        problems.append(f"score {report.score}, expected {score}")
    assert not problems, "\n".join(problems)


def test_partial_credit_keeps_the_right_gradients(grade_mutant):
    """log(softmax) underflows to an inf loss while every gradient is right: half the check's points stay."""
    report, _ = grade_mutant("log_of_probabilities")
    c = check(report, "tiny_probabilities")
    assert c.status == "failed" and 0 < c.score < c.max_score


# -- the way course files are laid out ----------------------------------------------------------
COURSE_IMPORT = "from linear_classifier import sample_batch\n"


def course_layout() -> tuple[str, str]:
    """The solution as the upstream course lays it out: sample_batch lives in the
    course's linear_classifier.py and two_layer_net.py imports it."""
    source = solution_source(A)
    start = source.index("def sample_batch(")
    end = source.index("def _accuracy(")
    helper = "import torch\nfrom typing import Tuple\n\n\n" + source[start:end]
    module = source[:start] + source[end:]
    module = module.replace("import torch\n", "import torch\n" + COURSE_IMPORT, 1)
    return module, helper


def test_course_layout_handed_in_as_a_folder_earns_full_marks(sandboxes, tmp_path):
    module, helper = course_layout()
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "two_layer_net.py").write_text(module)
    (folder / "linear_classifier.py").write_text(helper)
    report = api.grade(folder, A, root=ROOT, sandbox=sandboxes(A))
    assert failing(report) == {} and report.score == FULL


def test_missing_helper_module_says_how_to_fix_it(grade_source):
    module, _ = course_layout()
    report = grade_source(A, module)
    assert report.score == 0
    assert report.problem.endswith(
        "No module named 'linear_classifier'. linear_classifier is neither part of your submission nor installed on "
        "the grader: define sample_batch in two_layer_net.py, or hand in linear_classifier.py beside "
        "two_layer_net.py (a folder or a zip holding both)"), report.problem


def test_newer_python_syntax_says_which_python_grades(grade_source):
    source = solution_source(A) + "\n\ndef report(d):\n    return f\"{d[\"loss\"]}\"\n"
    report = grade_source(A, source)
    assert report.score == 0
    assert "The grader runs Python 3.11: before 3.12 an f-string cannot reuse its own quote" in report.problem

# -- bad inputs through the CLI -----------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--root", str(ROOT), *args],
                          capture_output=True, text=True, timeout=300)


def no_traceback(proc: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in proc.stdout + proc.stderr


SOLUTION = str(ROOT / "solutions" / A / f"{A}.py")
USAGE_ERRORS = [
    pytest.param(["grade", "{tmp}/nowhere.py", "-a", A], "no such file or folder", id="missing_path"),
    pytest.param(["grade", SOLUTION, "-a", "three_layer_net"], "unknown assignment", id="unknown_assignment"),
    pytest.param(["grade", SOLUTION, "-a", A, "--device", "cuda"], "no CUDA GPU", id="cuda_without_gpu",
                 marks=pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU may be present")),
]


@pytest.mark.parametrize("args, reason", USAGE_ERRORS)
def test_cli_usage_error_exits_2_with_one_line(tmp_path, args, reason):
    out = tmp_path / "out"
    proc = cli(*[a.format(tmp=tmp_path) for a in args], "--out", str(out))
    assert proc.returncode == 2
    assert reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert no_traceback(proc) and not out.exists()


BAD_FILES = {  # file: (bytes, the reason report.json gives)
    "notes.txt": (b"my answers are in the notebook\n", "is not a Python file"),
    "empty.py": (b"", "is empty"),
    "picture.py": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)), "looks binary"),
    "syntax.py": (b"import torch\ndef nn_forward_pass(params, X)\n    return X\n", "syntax error at line 2"),
    "raises.py": (b"raise RuntimeError('boom at import')\n", "boom at import"),
    "exits.py": (b"import sys\nsys.exit(3)\n", "exit(3) called while importing"),
}
MISNAMED = "two_layer_net.py defines no nn_forward_pass (found nn_forward_pas: renamed?)"


def misnamed_source() -> str:
    source = mutate(solution_source(A), "def nn_forward_pass(", "def nn_forward_pas(")
    return mutate(source, "= nn_forward_pass(params, X)", "= nn_forward_pas(params, X)")


@pytest.fixture(scope="module")
def bad_class(tmp_path_factory):
    """Every bad file in one class folder, graded by one `batch` run (one fork server)."""
    folder = tmp_path_factory.mktemp("bad_class")
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    (folder / "misnamed.py").write_text(misnamed_source())
    out = tmp_path_factory.mktemp("bad_class_out")
    return cli("batch", str(folder), "-a", A, "--out", str(out)), out


def test_cli_batch_of_bad_files_runs_to_the_end(bad_class):
    proc, out = bad_class
    assert proc.returncode == 0, proc.stderr
    assert no_traceback(proc), proc.stdout + proc.stderr
    assert {p.name for p in out.iterdir() if p.is_dir()} == {n.split(".")[0] for n in BAD_FILES} | {"misnamed"}


@pytest.mark.parametrize("name", BAD_FILES)
def test_cli_bad_file_scores_zero_with_its_reason(bad_class, name):
    _, out = bad_class
    reason = BAD_FILES[name][1]
    report = json.loads((out / name.split(".")[0] / "report.json").read_text())
    assert report["score"] == 0 and report["max_score"] == FULL
    assert reason in report["problem"]
    counted = [c for c in report["checks"] if c["status"] != "skipped"]
    assert all(c["status"] == "error" and reason in c["message"] for c in counted)


def test_cli_misnamed_function_loses_only_its_checks(bad_class):
    _, out = bad_class
    report = json.loads((out / "misnamed" / "report.json").read_text())
    lost = {c["name"]: c["status"] for c in report["checks"] if c["status"] not in ("passed", "skipped")}
    assert lost == {"forward_pass_toy": "error", "forward_pass_random": "error"}
    assert all(MISNAMED in c["message"] for c in report["checks"] if c["name"] in lost)
    assert report["problem"] is None and report["score"] == FULL - sum(POINTS[n] for n in lost)


def test_cli_grade_survives_sys_exit_at_import(tmp_path):
    """SystemExit(3) in the student's module must neither end the grader nor become its exit status."""
    submission = tmp_path / "exits.py"
    submission.write_bytes(BAD_FILES["exits.py"][0])
    proc = cli("grade", str(submission), "-a", A, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0 and no_traceback(proc), proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["score"] == 0 and "exit(3) called while importing" in report["problem"]


# -- report files -------------------------------------------------------------------------------
NUMBER = (int, float)
REPORT_FIELDS = {"schema_version": int, "student": str, "assignment": str, "score": NUMBER, "max_score": NUMBER,
                 "device": str, "checks": list}
CHECK_FIELDS = {"name": str, "visibility": str, "score": NUMBER, "max_score": NUMBER, "status": str,
                "message": str, "hint": (str, type(None)), "duration_s": NUMBER}
TEST_FIELDS = {"name": str, "score": NUMBER, "max_score": NUMBER, "output": str, "visibility": str}
GRADESCOPE_VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
STUDENT_FILES = ("results.json", "report.md", "report.html")  # report.json is the instructor's: it keeps everything


def assert_fields(record: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in record, f"missing field {name}"
        assert isinstance(record[name], kind), f"{name} is {type(record[name]).__name__}"


@pytest.fixture
def buggy_report(grade_mutant):
    """A submission that fails every hidden check, its reports written out."""
    report, out = grade_mutant("b2_missing_in_forward")
    hidden = {c.name for c in ASSIGNMENT.checks if c.visibility == "hidden"}
    assert hidden <= set(failing(report))
    return report, out


def test_report_json_and_results_json_follow_the_contract(buggy_report):
    report, out = buggy_report
    data = json.loads((out / "report.json").read_text())
    assert_fields(data, REPORT_FIELDS)
    assert (data["schema_version"], data["student"], data["assignment"], data["device"]) == (1, "bob", A, "cpu")
    assert [c["name"] for c in data["checks"]] == [c.name for c in ASSIGNMENT.checks]
    for c in data["checks"]:
        assert_fields(c, CHECK_FIELDS)
        assert c["status"] in ("passed", "failed", "error", "timeout", "skipped")
        assert c["visibility"] in ("public", "hidden")
        assert c["max_score"] == POINTS[c["name"]] and 0 <= c["score"] <= c["max_score"]
    assert data["score"] == report.score == sum(c["score"] for c in data["checks"])
    assert data["max_score"] == FULL

    results = json.loads((out / "results.json").read_text())
    assert isinstance(results["score"], NUMBER) and results["score"] == data["score"]
    # Skipped checks (no GPU) are left out: Gradescope would show them as failed.
    counted = [c for c in data["checks"] if c["status"] != "skipped"]
    assert [t["name"] for t in results["tests"]] == [c["name"] for c in counted]
    assert sum(t["max_score"] for t in results["tests"]) == data["max_score"]
    for t, c in zip(results["tests"], counted):
        assert_fields(t, TEST_FIELDS)
        assert t["score"] == c["score"] and t["max_score"] == c["max_score"]
        assert t["visibility"] in GRADESCOPE_VISIBILITY
        assert (t["visibility"] == "visible") == (c["visibility"] == "public")


def numbers(value) -> Iterator[float]:
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from numbers(v)
    else:
        try:
            yield from np.asarray(value, dtype=np.float64).ravel().tolist()
        except (TypeError, ValueError):
            return


def expected_numbers(check_name: str) -> set[str]:
    """The reference's expected values for a check, as 6 significant digits (the longer ones only)."""
    spec = next(c for c in ASSIGNMENT.checks if c.name == check_name)
    return {s for s in (f"{v:.6g}" for v in numbers(reference.load(ASSIGNMENT, spec)["expected"])) if len(s) >= 5}


def test_hidden_expected_values_stay_out_of_student_files(buggy_report):
    _, out = buggy_report
    text = "\n".join((out / name).read_text() for name in STUDENT_FILES)
    # The detector sees a value when one is shown: a failed public check prints its expected values.
    assert any(s in text for s in expected_numbers("scores_when_y_is_none"))
    for spec in ASSIGNMENT.checks:
        if spec.visibility == "hidden":
            leaked = sorted(s for s in expected_numbers(spec.name) if s in text)
            assert not leaked, f"{spec.name}: hidden expected values in the student's files: {leaked[:5]}"
