FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e . && useradd --system --home /var/lib/mutt mutt && mkdir -p /var/lib/mutt && chown mutt /var/lib/mutt
USER mutt
ENV MUTT_HOME=/var/lib/mutt
EXPOSE 8080
CMD ["mutt", "web", "--host", "0.0.0.0", "--port", "8080"]
