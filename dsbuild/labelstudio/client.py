"""A thin wrapper over `label-studio-sdk` (2.x) whose failures are one-line dsbuild errors.

Every call goes through `_call`, which turns what the SDK raises into a `ServiceError`
(DSB401) naming the server URL and, where known, the project and task, plus what to do:
server down, token rejected, project deleted, request refused. The SDK is imported when a
client is made, never at module import.

`check_server` asks the URL's version endpoint (`/api/version`, no token needed) first, so
that another program on the port is named as such instead of being read as a Label Studio
that lost the project: push, pull and status call it before anything else, and a 404 on a
project suggests `--new-project` only once the server is known to be Label Studio.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from dsbuild.errors import ConfigError, ServiceError

__all__ = ["LabelStudioClient", "client_from_settings"]

T = TypeVar("T")

SNAPSHOT_OPTIONS = {
    # identities of annotators (a plain export gives only their ids)
    "annotations__completed_by": {"only_id": False},
    "drafts": {"only_id": True},
    "predictions": {"only_id": True},
}


# Keeps annotators out of each other's annotations where the server can: Label Studio
# Enterprise calls this field "Show Data Manager to Annotators" (annotators then reach tasks
# only through the labelling stream, which gives each one an annotation of their own);
# Label Studio Community accepts it and has no roles, so every member can still open any
# task from the Data Manager (see the README, "Human annotation rounds").
ANNOTATOR_PRIVACY = {"show_annotation_history": False}


def _detail(body: Any, limit: int = 200) -> str:
    if isinstance(body, Mapping):
        for key in ("detail", "validation_errors", "message", "error"):
            if body.get(key):
                body = body[key]
                break
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, default=str)
    text = " ".join(str(text).split())
    return text[: limit - 1] + "…" if len(text) > limit else text


class LabelStudioClient:
    """The calls dsbuild makes to one Label Studio server, with clear errors."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 120.0, max_retries: int = 2
    ) -> None:
        from label_studio_sdk import LabelStudio

        if not url:
            raise ConfigError(
                "no Label Studio URL", "set LABEL_STUDIO_URL or pass --url", code="DSB103"
            )
        if not token:
            raise ConfigError(
                "no Label Studio API token",
                "set LABEL_STUDIO_API_KEY or pass --api-key (Account & Settings in the UI)",
                code="DSB103",
            )
        self.url = url.rstrip("/")
        self.version: str | None = None  # set by check_server: the server is Label Studio
        self.sdk = LabelStudio(
            base_url=self.url, api_key=token, timeout=timeout, max_retries=max_retries
        )

    # -- error mapping ---------------------------------------------------------------------
    def _call(
        self,
        what: str,
        fn: Callable[..., T],
        *args: Any,
        project: int | None = None,
        task: int | None = None,
        **kwargs: Any,
    ) -> T:
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        where = f"Label Studio at {self.url}"
        subject = "".join(
            [
                f" project {project}" if project is not None else "",
                f" task {task}" if task is not None else "",
            ]
        )
        try:
            return fn(*args, **kwargs)
        except (httpx.ConnectError, httpx.RemoteProtocolError, ConnectionError) as exc:
            raise ServiceError(
                f"cannot reach {where} to {what}{subject} ({exc.__class__.__name__})",
                "start the server (`dsbuild labelstudio serve`) or set LABEL_STUDIO_URL to its "
                "address; nothing already pushed or pulled is lost — run the same command again",
            ) from None
        except httpx.TimeoutException:
            raise ServiceError(
                f"{where} did not answer in time to {what}{subject}",
                "the server may be overloaded; run the same command again",
            ) from None
        except ApiError as exc:
            status = exc.status_code
            if status in (401, 403, 404) and self.version is None:
                self.check_server()  # another program on the port: say so, not its status
            if status in (401, 403):
                raise ServiceError(
                    f"{where} rejected the API token (HTTP {status}) to {what}{subject}",
                    "set LABEL_STUDIO_API_KEY to the token under Account & Settings (a legacy "
                    "token needs LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true on the server)",
                ) from None
            if status == 404 and project is not None and task is None:
                raise ServiceError(
                    f"project {project} does not exist at Label Studio {self.version} at "
                    f"{self.url} (deleted in the UI?)",
                    "push again with --new-project to start a new project; pulls already "
                    "written stay in the run's annotation folder",
                ) from None
            if status == 404 and task is not None:
                raise ServiceError(
                    f"task {task} does not exist at {self.url} (deleted?)",
                    "push the run again to recreate it",
                ) from None
            if status is not None and status >= 500:
                raise ServiceError(
                    f"{where} failed (HTTP {status}) to {what}{subject}: {_detail(exc.body)}",
                    "look at the server log; run the same command again",
                ) from None
            raise ServiceError(
                f"{where} refused to {what}{subject} (HTTP {status}): {_detail(exc.body)}",
                "fix the request as the message says",
            ) from None

    def _raw(
        self,
        method: str,
        path: str,
        *,
        what: str,
        project: int | None = None,
        task: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """A request through the SDK's HTTP client (auth, base URL) without its response
        models, which are slow for long listings and strict about fields: JSON or None."""
        from label_studio_sdk.core.api_error import ApiError

        def send() -> Any:
            wrapper = self.sdk._client_wrapper
            response = wrapper.httpx_client.request(path, method=method, **kwargs)
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                raise ApiError(status_code=response.status_code, body=body)
            return response.json() if response.content else None

        return self._call(what, send, project=project, task=task)

    # -- the server ---------------------------------------------------------------------------
    def check_server(self, timeout: float = 10.0) -> str:
        """The Label Studio version at the URL (`/api/version`); a ServiceError saying plainly
        what is there instead when it is not Label Studio (or nothing answers)."""
        if self.version is not None:
            return self.version
        import httpx

        endpoint = f"{self.url}/api/version"
        try:
            response = httpx.get(endpoint, timeout=timeout, follow_redirects=False)
        except (httpx.ConnectError, httpx.RemoteProtocolError, ConnectionError) as exc:
            raise ServiceError(
                f"cannot reach Label Studio at {self.url} ({exc.__class__.__name__})",
                "start the server (`dsbuild labelstudio serve`) or set LABEL_STUDIO_URL to its "
                "address; nothing already pushed or pulled is lost — run the same command again",
            ) from None
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"{self.url} did not answer like a Label Studio server ({exc.__class__.__name__})",
                "check LABEL_STUDIO_URL (the address `dsbuild labelstudio serve` printed)",
            ) from None
        version = None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, Mapping):
                package = body.get("label-studio-os-package") or {}
                version = body.get("release") or (
                    package.get("version") if isinstance(package, Mapping) else None
                )
        if not version:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            server = response.headers.get("server")
            raise ServiceError(
                f"{self.url} is not a Label Studio server: GET /api/version answered "
                f"HTTP {response.status_code} ({kind}{', server ' + server if server else ''}) "
                "instead of Label Studio's version",
                "another program holds that address; set LABEL_STUDIO_URL (or --url) to the "
                "Label Studio server (the URL `dsbuild labelstudio serve` printed)",
            )
        self.version = str(version)
        return self.version

    # -- account -----------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        """The token's user (checks that the server is up and the token valid)."""
        return self._raw("GET", "api/current-user/whoami", what="check the API token")

    # -- projects ----------------------------------------------------------------------------
    def get_project(self, project: int) -> dict[str, Any]:
        return self._raw("GET", f"api/projects/{project}", what="read the project", project=project)

    def create_project(
        self,
        title: str,
        label_config: str,
        *,
        description: str = "",
        instructions_html: str = "",
        overlap: int = 1,
    ) -> int:
        def create() -> Any:
            return self.sdk.projects.create(
                title=title[:50],
                label_config=label_config,
                description=description,
                expert_instruction=instructions_html,
                show_instruction=bool(instructions_html),
                maximum_annotations=overlap,
                show_overlap_first=overlap > 1,
                overlap_cohort_percentage=100,
                **ANNOTATOR_PRIVACY,
            )

        return int(self._call(f"create project {title!r}", create).id)

    def update_project(self, project: int, **fields: Any) -> dict[str, Any]:
        return self._raw(
            "PATCH",
            f"api/projects/{project}",
            what="update the project",
            project=project,
            json=fields,
        )

    def delete_project(self, project: int) -> None:
        self._call("delete the project", self.sdk.projects.delete, project, project=project)

    # -- tasks -------------------------------------------------------------------------------
    def task_keys(self, project: int, *, page_size: int = 2000) -> dict[str, dict[str, Any]]:
        """Every task of the project that dsbuild pushed: key → {id, check, annotations}."""
        out: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            params = {
                "project": project,
                "page": page,
                "page_size": page_size,
                "fields": "task_only",
                "include": "id,data,total_annotations",
            }
            try:
                body = self._raw(
                    "GET", "api/tasks/", what="list the tasks", project=project, params=params
                )
            except ServiceError as exc:
                if "HTTP 404" in exc.what and page > 1:  # past the last page
                    break
                raise
            tasks = body.get("tasks", []) if isinstance(body, Mapping) else body
            for t in tasks:
                data = t.get("data") or {}
                key = data.get("dsbuild_key")
                if key is not None:
                    out[str(key)] = {
                        "id": t["id"],
                        "check": data.get("dsbuild_check"),
                        "annotations": t.get("total_annotations", 0),
                    }
            total = body.get("total") if isinstance(body, Mapping) else None
            if len(tasks) < page_size or (total is not None and page * page_size >= total):
                break
            page += 1
        return out

    def import_tasks(self, project: int, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
        """Import tasks (with their predictions) in one request; the new task ids."""
        body = self._raw(
            "POST",
            f"api/projects/{project}/import",
            what=f"import {len(tasks)} tasks",
            project=project,
            params={"return_task_ids": "true", "commit_to_project": "true"},
            json=list(tasks),
        )
        ids = (body or {}).get("task_ids")
        if ids is None:
            raise ServiceError(
                f"Label Studio at {self.url} imported tasks into project {project} "
                "without returning their ids",
                "use Label Studio 1.23 (Community)",
            )
        return [int(i) for i in ids]

    def update_task_data(self, task: int, data: Mapping[str, Any]) -> None:
        self._raw(
            "PATCH",
            f"api/tasks/{task}",
            what="update the task",
            task=task,
            json={"data": dict(data)},
        )

    # -- annotations and users (tests, benchmarks, scripted rounds) ----------------------------
    def create_annotation(
        self,
        task: int,
        result: list[dict],
        *,
        completed_by: int | None = None,
        lead_time: float | None = None,
    ) -> int:
        payload: dict[str, Any] = {"result": result}
        if completed_by is not None:
            payload["completed_by"] = completed_by
        if lead_time is not None:
            payload["lead_time"] = lead_time
        body = self._raw(
            "POST",
            f"api/tasks/{task}/annotations/",
            what="create an annotation",
            task=task,
            json=payload,
        )
        return int(body["id"])

    def ensure_user(self, email: str, *, password: str | None = None) -> int:
        """The id of the user with `email`, created (and put in our organization) if needed."""
        import secrets

        users = self._raw("GET", "api/users/", what="list users")
        for user in users or []:
            if user.get("email") == email:
                return int(user["id"])
        me = self.whoami()
        body = self._raw(
            "POST",
            "api/users/",
            what=f"create user {email}",
            json={
                "email": email,
                "username": email.split("@")[0],
                "password": password or secrets.token_urlsafe(16),
            },
        )
        user_id = int(body["id"])
        # users made through the API have no organization until it is set
        self._raw(
            "PATCH",
            f"api/users/{user_id}/",
            what=f"add user {email} to the organization",
            json={"active_organization": me.get("active_organization")},
        )
        return user_id

    # -- exports -----------------------------------------------------------------------------
    def export_snapshot(
        self, project: int, *, only_annotated: bool = True, timeout: float = 600.0
    ) -> list[dict[str, Any]]:
        """Every (annotated) task with its annotations and the annotators' identities."""
        options: dict[str, Any] = {
            "serialization_options": SNAPSHOT_OPTIONS,
            "title": "dsbuild pull",
        }
        if only_annotated:
            options["task_filter_options"] = {"annotated": "only"}
        created = self._raw(
            "POST",
            f"api/projects/{project}/exports/",
            what="start an export",
            project=project,
            json=options,
        )
        export_id = created["id"]
        deadline = time.monotonic() + timeout
        status = created.get("status")
        while status not in ("completed", "failed"):
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the export {export_id} of project {project} at {self.url} "
                    f"did not finish in {timeout:.0f} s",
                    "run the same command again",
                )
            time.sleep(0.2)
            status = self._raw(
                "GET",
                f"api/projects/{project}/exports/{export_id}",
                what="check the export",
                project=project,
            ).get("status")
        if status == "failed":
            raise ServiceError(
                f"the export {export_id} of project {project} at {self.url} failed",
                "look at the server log, then run the same command again",
            )
        body = self._raw(
            "GET",
            f"api/projects/{project}/exports/{export_id}/download",
            what="download the export",
            project=project,
            params={"exportType": "JSON"},
        )
        try:
            self._raw(
                "DELETE",
                f"api/projects/{project}/exports/{export_id}",
                what="delete the export",
                project=project,
            )
        except ServiceError:
            pass  # a leftover export file is harmless
        return list(body or [])


def client_from_settings(url: str | None, token: str | None, **kwargs: Any) -> LabelStudioClient:
    """A client for the configured server (flags > env LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)."""
    import os

    return LabelStudioClient(
        url or os.environ.get("LABEL_STUDIO_URL") or "",
        token or os.environ.get("LABEL_STUDIO_API_KEY") or "",
        **kwargs,
    )


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
