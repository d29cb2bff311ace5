#!/bin/sh
# fashion_mnist.sh [BUILDDIR] - the Fashion-MNIST rows of bench/run: an MLP
# (5 epochs) and a small CNN (2 epochs) trained on the 60000 training
# images and tested on the 10000 test images, beside PyTorch when it is
# installed. Needs the Debian package dataset-fashion-mnist.
exec "$(dirname "$0")/run" --build "${1:-.}" fmnist cnn
