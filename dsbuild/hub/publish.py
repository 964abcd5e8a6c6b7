"""Upload an exported dataset folder to the Hugging Face Hub with `huggingface_hub`.

Before anything is sent the folder must pass `validate_folder`. The token comes from the
settings (`hf_token`, i.e. `HF_TOKEN` or the config file), else from the usual login
(`hf auth login`). The repo must belong to the token's user or one of their organisations
(`whoami`); it is created (as a dataset repo, `private` if asked) when missing, and every
file goes up in one commit. `dry_run` checks the folder and lists the files, sending nothing.

The HTTP client is the one `huggingface_hub` shares (`get_session`), so tests can route it
to an in-process fake Hub with `huggingface_hub.set_client_factory`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import ServiceError, UsageError
from dsbuild.hub.folder import check_folder

__all__ = ["PublishPlan", "plan_upload", "publish_folder", "resolve_token"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


@dataclass
class PublishPlan:
    """What an upload sends (or, in a dry run, would send)."""

    repo_id: str
    folder: Path
    files: list[tuple[str, int]]  # path in repo, bytes
    private: bool = False
    dry_run: bool = False
    user: str | None = None
    created: bool | None = None
    commit_url: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo_id,
            "folder": str(self.folder),
            "private": self.private,
            "dry_run": self.dry_run,
            "user": self.user,
            "created": self.created,
            "commit_url": self.commit_url,
            "notes": self.notes,
            "files": [{"path": p, "bytes": n} for p, n in self.files],
        }


def plan_upload(folder: str | Path) -> list[tuple[str, int]]:
    """The files an upload sends: everything in the folder but hidden files and folders."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append((rel.as_posix(), path.stat().st_size))
    return out


def resolve_token(settings_token: Any = None) -> str | None:
    """The Hub token: the settings' `hf_token` (a SecretStr or str), else the usual login."""
    if settings_token is not None:
        value = (
            settings_token.get_secret_value()
            if hasattr(settings_token, "get_secret_value")
            else str(settings_token)
        )
        if value:
            return value
    from huggingface_hub import get_token

    return get_token()


def _hub_error(what: str, exc: Exception) -> ServiceError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ServiceError(
        f"{what} failed ({f'HTTP {status}: ' if status else ''}{detail})",
        "check the token's permissions and the Hub status, then run publish again",
    )


def publish_folder(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | None,
    private: bool = False,
    dry_run: bool = False,
    commit_message: str | None = None,
) -> PublishPlan:
    """Check the folder, then (unless `dry_run`) upload it to the dataset repo `repo_id`."""
    folder = Path(folder)
    if not _REPO_ID.match(repo_id):
        raise UsageError(
            f"--repo {repo_id!r} is not OWNER/NAME",
            "write e.g. --repo my-user/psiloqa-de",
            code="DSB103",
        )
    check_folder(folder)
    plan = PublishPlan(repo_id, folder, plan_upload(folder), private=private, dry_run=dry_run)
    if dry_run:
        if not token:
            plan.notes.append(
                "no Hugging Face token found: a real upload would refuse "
                "(set HF_TOKEN or run `hf auth login`)"
            )
        return plan
    if not token:
        raise UsageError(
            "no Hugging Face token, so nothing can be uploaded",
            "set HF_TOKEN (or hf_token in the config file), or run `hf auth login`",
            code="DSB103",
        )
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        me = api.whoami(token=token)
    except HfHubHTTPError as exc:
        raise _hub_error("checking the token with the Hub (whoami)", exc) from exc
    user = str(me.get("name") or "")
    owners = {user, *(str(o.get("name")) for o in me.get("orgs") or [] if o.get("name"))}
    owner = repo_id.split("/", 1)[0]
    if owner not in owners:
        raise UsageError(
            f"repo {repo_id} belongs to {owner!r}, and the token is {user!r}'s "
            f"(organisations: {', '.join(sorted(owners - {user})) or 'none'})",
            f"publish to {user}/{repo_id.split('/', 1)[1]} or to one of your organisations",
            code="DSB103",
        )
    plan.user = user
    try:
        plan.created = not api.repo_exists(repo_id, repo_type="dataset", token=token)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True, token=token)
        operations = [
            CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p))
            for p, _ in plan.files
        ]
        info = api.create_commit(
            repo_id,
            operations,
            repo_type="dataset",
            token=token,
            commit_message=commit_message or "Upload dataset exported by dsbuild",
        )
    except HfHubHTTPError as exc:
        raise _hub_error(f"uploading to {repo_id}", exc) from exc
    except ValueError as exc:  # the Hub's README validation, before any file is sent
        raise ServiceError(
            f"the Hub refused the card of {folder}: {' '.join(str(exc).split())}",
            "fix the card's YAML and export again",
        ) from exc
    plan.commit_url = str(info.commit_url)
    if private and not plan.created:
        plan.notes.append("the repo existed already: its visibility was left as it was")
    return plan
