# Starling's one image: the web service (Daphne, `manage.py serve`) and the RQ workers run it with different commands.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch first, from the CPU-only index, so the image never pulls the CUDA libraries (several GB).
# requirements.txt pins torch==2.13.0, which the installed 2.13.0+cpu already satisfies.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time with the production storage (hashed names + compressed
# copies for WhiteNoise). The key below exists only for this step; it is not kept in the image.
RUN DJANGO_ENV=production \
    SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-0123456789abcdef \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput -v0

RUN useradd --create-home --uid 1000 starling \
    && mkdir -p /data/media \
    && chown -R starling:starling /data /app
USER starling

ENV DJANGO_ENV=production \
    MEDIA_ROOT=/data/media \
    STATIC_ROOT=/app/staticfiles

EXPOSE 8000
# The web server: Daphne with Starling's connection limits (core/server.py); nginx stands in front of it.
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
