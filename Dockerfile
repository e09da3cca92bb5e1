# syntax=docker/dockerfile:1
# hsmsync as a small image that runs as a non-root user:
#   docker build -t hsmsync .
#   docker run --rm -v "$PWD:/work" hsmsync validate hsmsync.yaml
# Stage 1 builds the wheel from this checkout; stage 2 installs only that wheel (and its
# dependencies) into a slim Python, with no compiler, no source tree and no pip cache.
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="hsmsync" \
      org.opencontainers.image.description="Manage Azure Managed HSM access as code: plan, apply, drift." \
      org.opencontainers.image.licenses="MIT"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install /tmp/wheels/hsmsync-*.whl \
 && rm -rf /tmp/wheels \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /work --shell /usr/sbin/nologin hsmsync
WORKDIR /work
USER 10001:10001
ENTRYPOINT ["hsmsync"]
CMD ["--help"]
