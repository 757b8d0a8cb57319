# The production image: MUTT installed (not editable) with the tested versions (constraints.txt) into
# the virtualenv /opt/mutt, run as the unprivileged user mutt. The source tree and whatever the build
# writes (build/, *.egg-info, pip's temporary files) stay in the build stage.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1
COPY . /src
RUN python -m venv /opt/mutt \
    && /opt/mutt/bin/python -m pip install --upgrade pip \
    && /opt/mutt/bin/python -m pip install -c /src/constraints.txt /src

FROM ${PYTHON_IMAGE}
RUN useradd --system --user-group --home-dir /var/lib/mutt --no-create-home --shell /usr/sbin/nologin mutt \
    && install -d -m 0700 -o mutt -g mutt /var/lib/mutt
COPY --from=build /opt/mutt /opt/mutt
ENV PATH=/opt/mutt/bin:$PATH MUTT_HOME=/var/lib/mutt
USER mutt
WORKDIR /var/lib/mutt
EXPOSE 8080
CMD ["mutt", "web", "--host", "0.0.0.0", "--port", "8080"]
