# A Meltano project image with tap-zohocrm, target-sqlite-audit and zoho-crm-insights.
#   docker build -t zoho-crm-meltano .
#   docker run --rm -v "$PWD/output:/project/output" \
#     -e TAP_ZOHOCRM_CLIENT_ID -e TAP_ZOHOCRM_CLIENT_SECRET -e TAP_ZOHOCRM_REFRESH_TOKEN \
#     -e TAP_ZOHOCRM_DATA_CENTER=eu zoho-crm-meltano --environment=prod run crm-sync
# The audit file is written under /project/output (mount it to keep it); Meltano's state lives
# in /project/.meltano (mount a volume there too, or set MELTANO_DATABASE_URI).
FROM python:3.11-slim

# UV_COMPILE_BYTECODE: `meltano install` compiles the plugins' bytecode into the image, so a
# container does not compile singer-sdk again on every run (a demo `meltano run` costs 6.0-7.3
# CPU-s with it and 9.7-10.9 without, where bytecode is not written at run time).
ENV MELTANO_SEND_ANONYMOUS_USAGE_STATS=false \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1

RUN pip install "meltano>=4.0,<5" "uv>=0.5"

WORKDIR /project
# The plugins install from this directory (pip_url: -e .), as in the repository.
COPY pyproject.toml README.md LICENSE CHANGELOG.md meltano.yml ./
COPY schemas ./schemas
COPY plugins ./plugins
COPY tap_zohocrm ./tap_zohocrm
COPY target_sqlite_audit ./target_sqlite_audit
COPY zoho_crm_emulator ./zoho_crm_emulator
COPY zoho_crm_insights ./zoho_crm_insights
RUN meltano install

ENTRYPOINT ["meltano"]
CMD ["--environment=prod", "run", "crm-sync"]
