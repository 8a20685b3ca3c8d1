import torch

# Frank - HW3 two layer network
# Architecture: input - fully connected layer - ReLU - fully connected layer - softmax


def nn_forward_pass(params, X):
    W1 = params['W1']
    b1 = params['b1']
    W2 = params['W2']
    b2 = params['b2']

    # first layer
    layer1 = torch.mm(X, W1) + b1
    # relu: set negative values to zero
    hidden = layer1.clone()
    hidden[hidden < 0] = 0
    # second layer gives the class scores
    scores = torch.mm(hidden, W2) + b2

    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1 = params['W1']
    b1 = params['b1']
    W2 = params['W2']
    b2 = params['b2']
    N = X.shape[0]

    scores, hidden = nn_forward_pass(params, X)

    # no labels -> just give back the scores
    if y is None:
        return scores

    # Step 1: softmax probabilities
    exp_scores = torch.exp(scores)
    probs = exp_scores / torch.sum(exp_scores, dim=1, keepdim=True)

    # Step 2: cross entropy loss = average of -log(prob of the correct class)
    correct_probs = probs[torch.arange(N), y]
    data_loss = torch.mean(-torch.log(correct_probs))

    # Step 3: regularization
    reg_loss = reg * torch.sum(W1 * W1) + reg * torch.sum(W2 * W2)
    loss = data_loss + reg_loss

    # Step 4: backward pass
    # gradient of the loss wrt the scores is (probs - 1 at the correct class) / N
    dscores = probs.clone()
    dscores[torch.arange(N), y] = dscores[torch.arange(N), y] - 1
    dscores = dscores / N

    # second layer
    dW2 = torch.mm(hidden.t(), dscores) + 2 * reg * W2
    db2 = torch.sum(dscores, dim=0)

    # hidden layer
    dhidden = torch.mm(dscores, W2.t())
    dhidden[hidden <= 0] = 0     # relu only lets the gradient through where it was active

    # first layer
    dW1 = torch.mm(X.t(), dhidden) + 2 * reg * W1
    db1 = torch.sum(dhidden, dim=0)

    grads = {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}
    return loss, grads


def sample_batch(X, y, num_train, batch_size):
    # pick batch_size random examples (with replacement)
    indices = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X[indices]
    y_batch = y[indices]
    return X_batch, y_batch


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        # get a minibatch
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)

        # loss and gradients on the minibatch
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        # gradient descent step
        params['W1'] -= learning_rate * grads['W1']
        params['b1'] -= learning_rate * grads['b1']
        params['W2'] -= learning_rate * grads['W2']
        params['b2'] -= learning_rate * grads['b2']

        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))

        # once every epoch
        if it % iterations_per_epoch == 0:
            # accuracy on this batch and on the validation set
            train_acc = (pred_func(params, loss_func, X_batch) == y_batch).float().mean().item()
            val_acc = (pred_func(params, loss_func, X_val) == y_val).float().mean().item()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)

            # make the learning rate smaller
            learning_rate = learning_rate * learning_rate_decay

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params, loss_func, X):
    scores = loss_func(params, X)
    y_pred = torch.argmax(scores, dim=1)
    return y_pred


class TwoLayerNet(object):
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
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
        return nn_train(self.params, nn_forward_backward, nn_predict,
                        X, y, X_val, y_val,
                        learning_rate, learning_rate_decay,
                        reg, num_iters, batch_size, verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)
        print("Saved in {}".format(path))

    def load(self, path):
        self.params = torch.load(path)
        print("load checkpoint file: {}".format(path))
