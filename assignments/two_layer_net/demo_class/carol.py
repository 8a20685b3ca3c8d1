import torch


def nn_forward_pass(params, X):
    # Unpack variables from the params dictionary
    W1, b1 = params['W1'], params['b1']
    W2, b2 = params['W2'], params['b2']

    ##########################################################################
    # TODO: Perform the forward pass                                         #
    ##########################################################################
    h1 = X.mm(W1) + b1
    h1 = h1.clamp(min=0)          # relu
    scores = h1.mm(W2) + b2
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return scores, h1


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1, b1 = params['W1'], params['b1']
    W2, b2 = params['W2'], params['b2']
    N, D = X.shape

    scores, h1 = nn_forward_pass(params, X)
    # If the targets are not given then jump out, we're done
    if y is None:
        return scores

    ##########################################################################
    # TODO: Compute the loss                                                 #
    ##########################################################################
    s = scores - scores.max(dim=1, keepdim=True)[0]   # numerical stability
    log_sum = torch.log(torch.exp(s).sum(dim=1))
    correct = s[torch.arange(N), y]
    loss = (log_sum - correct).sum() / N
    loss = loss + reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################

    ##########################################################################
    # TODO: Compute the backward pass                                        #
    ##########################################################################
    grads = {}
    p = torch.exp(s) / torch.exp(s).sum(dim=1, keepdim=True)
    dscores = p.clone()
    dscores[torch.arange(N), y] -= 1

    grads['W2'] = h1.t().mm(dscores) + 2 * reg * W2
    grads['b2'] = dscores.sum(dim=0)

    dh1 = dscores.mm(W2.t())
    dh1[h1 <= 0] = 0
    grads['W1'] = X.t().mm(dh1) + 2 * reg * W1
    grads['b1'] = dh1.sum(dim=0)
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return loss, grads


def sample_batch(X, y, num_train, batch_size):
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X[idx]
    y_batch = y[idx]
    return X_batch, y_batch


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    # Use SGD to optimize the parameters in self.model
    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)

        # Compute loss and gradients using the current minibatch
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        ######################################################################
        # TODO: update the parameters using the gradients                    #
        ######################################################################
        params['W1'] -= learning_rate * grads['W1']
        params['b1'] -= learning_rate * grads['b1']
        params['W2'] -= learning_rate * grads['W2']
        params['b2'] -= learning_rate * grads['b2']
        ######################################################################
        #                             END OF YOUR CODE                       #
        ######################################################################

        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))

        # Every epoch, check train and val accuracy and decay learning rate.
        if it % iterations_per_epoch == 0:
            # Check accuracy
            y_train_pred = pred_func(params, loss_func, X_batch)
            train_acc = (y_train_pred == y_batch).float().mean().item()
            y_val_pred = pred_func(params, loss_func, X_val)
            val_acc = (y_val_pred == y_val).float().mean().item()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)

            # Decay learning rate
            learning_rate *= learning_rate_decay

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params, loss_func, X):
    ##########################################################################
    # TODO: Implement this function                                          #
    ##########################################################################
    y_pred = loss_func(params, X).argmax(dim=1)
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return y_pred


class TwoLayerNet(object):
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
        # reset seed before start
        self.params = {}
        self.params['W1'] = std * torch.randn(input_size, hidden_size, dtype=dtype, device=device)
        self.params['b1'] = torch.zeros(hidden_size, dtype=dtype, device=device)
        self.params['W2'] = std * torch.randn(hidden_size, output_size, dtype=dtype, device=device)
        self.params['b2'] = torch.zeros(output_size, dtype=dtype, device=device)

    def loss(self, X, y=None, reg=0.0):
        return nn_forward_backward(self.params, X, y, reg)

    def train(self, X, y, X_val, y_val,
              learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100,
              batch_size=200, verbose=False):
        return nn_train(
            self.params,
            nn_forward_backward,
            nn_predict,
            X, y, X_val, y_val,
            learning_rate, learning_rate_decay,
            reg, num_iters, batch_size, verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)
        print("Saved in {}".format(path))

    def load(self, path):
        checkpoint = torch.load(path)
        self.params = checkpoint
        print("load checkpoint file: {}".format(path))
