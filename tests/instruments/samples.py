"""Outputs of the agent CLIs as they print them, for the parsing tests.

Written after the CLIs' documented and observed shapes: Claude Code's result
document, Gemini CLI's {response, stats} document, Codex's `exec --json` events,
OpenCode's `run --format json` events, Cline's JSON messages, and plain text from
the others. Each constant is exactly what lands on stdout (or stderr).
"""

from __future__ import annotations

CLAUDE_OK = """{"type":"result","subtype":"success","is_error":false,"duration_ms":18234,"duration_api_ms":16890,"num_turns":4,"result":"Created `hello.py` and ran it: it prints *Hello, world!*","session_id":"7f9c2a1e-5b0d-4a57-9f5e-2d7c1b0e8a31","total_cost_usd":0.0621,"usage":{"input_tokens":1200,"cache_creation_input_tokens":5012,"cache_read_input_tokens":12044,"output_tokens":350,"server_tool_use":{"web_search_requests":0},"service_tier":"standard"},"permission_denials":[],"uuid":"b1e4b5a2-0c6e-4d8e-a0d5-3c1f8e2b9d10"}
"""

CLAUDE_AUTH_FAILED = """{"type":"result","subtype":"success","is_error":true,"duration_ms":412,"duration_api_ms":0,"num_turns":1,"result":"Invalid API key · Please run /login","session_id":"0c3e5f1a-9d7b-4c2e-8a6f-1b2d3e4f5a6b","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}
"""

CLAUDE_ERROR_OBJECT = """{"type":"result","subtype":"error_during_execution","is_error":true,"error":{"type":"overloaded_error","message":"API Error: 529 Overloaded"},"num_turns":2,"session_id":"5d6e7f80-1a2b-4c3d-9e8f-0a1b2c3d4e5f","usage":{"input_tokens":800,"output_tokens":12}}
"""

# Usage limits arrive as plain text on stdout, not as JSON, with exit code 1 ...
CLAUDE_LIMIT = "You've hit your limit · resets 3am (Europe/Oslo)\n"
# ... and sometimes with exit code 0.
CLAUDE_RATE_LIMIT_EXIT_0 = "API Error: Rate limit reached\n"

CLAUDE_WITH_BANNER = (
    "Warning: Claude Code is running with --dangerously-skip-permissions\n" + CLAUDE_OK
)

GEMINI_OK = """{
  "response": "The failing test expected UTC; I set TZ in conftest.py and all 42 tests pass.",
  "stats": {
    "models": {
      "gemini-2.5-flash-lite": {
        "api": {"totalRequests": 1, "totalErrors": 0, "totalLatencyMs": 812},
        "tokens": {"prompt": 2100, "candidates": 40, "total": 2200, "cached": 0, "thoughts": 60, "tool": 0}
      },
      "gemini-3.1-pro-preview": {
        "api": {"totalRequests": 3, "totalErrors": 0, "totalLatencyMs": 20417},
        "tokens": {"prompt": 8000, "candidates": 300, "total": 8700, "cached": 4096, "thoughts": 400, "tool": 0}
      }
    },
    "tools": {"totalCalls": 2, "totalSuccess": 2, "totalFail": 0, "totalDurationMs": 1530,
              "totalDecisions": {"accept": 0, "reject": 0, "modify": 0, "auto_accept": 2}, "byName": {}},
    "files": {"totalLinesAdded": 1, "totalLinesRemoved": 0}
  }
}
"""

GEMINI_QUOTA = """{
  "error": {
    "type": "Error",
    "message": "[API Error: You have exhausted your capacity on this model. Your quota will reset after 2h13m.]",
    "code": 1
  }
}
"""
GEMINI_QUOTA_STDERR = """YOLO mode is enabled. All tool calls will be automatically approved.
Loaded cached credentials.
Error when talking to Gemini API Full report available at: /tmp/gemini-client-error-Turn.run-sendMessageStream-2026-05-01T10-22-31-118Z.json
    at GeminiClient.sendMessageStream (file:///usr/lib/node_modules/@google/gemini-cli/node_modules/@google/gemini-cli-core/dist/src/core/client.js:421:19) {
  status: 429,
  code: 'RESOURCE_EXHAUSTED'
}
"""

CODEX_OK = """{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Scanning the repository layout**"}}
{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"README.md\\nsrc\\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"The repository holds a README and a `src` folder; nothing needed changing."}}
{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}
"""
CODEX_STDERR = "Reading prompt from stdin...\n"

CODEX_RATE_LIMITED = """{"type":"thread.started","thread_id":"0199a2b7-1f00-7c31-b2a9-6f0e4d3c2b1a"}
{"type":"turn.started"}
{"type":"error","message":"stream error: exceeded retry limit, last status: 429 Too Many Requests; retrying 5/5 in 3.087s…"}
{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}
"""

CODEX_USAGE_LIMIT_STDERR = (
    "■ You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), "
    "visit https://chatgpt.com/codex/settings/usage to purchase more credits or try again "
    "at 6:15 AM.\n"
)

OPENCODE_OK = """{"type":"step_start","timestamp":1761998400000,"sessionID":"ses_6a1bc0ffee","part":{"id":"prt_01","sessionID":"ses_6a1bc0ffee","messageID":"msg_01","type":"step-start","snapshot":"4b825dc642cb6eb9a060e54bf8d69288fbee4904"}}
{"type":"tool_use","timestamp":1761998401200,"sessionID":"ses_6a1bc0ffee","part":{"id":"prt_02","sessionID":"ses_6a1bc0ffee","messageID":"msg_01","type":"tool","callID":"call_1","tool":"bash","state":{"status":"completed","input":{"command":"ls"},"output":"README.md\\n","title":"ls","metadata":{}}}}
{"type":"text","timestamp":1761998403900,"sessionID":"ses_6a1bc0ffee","part":{"id":"prt_03","sessionID":"ses_6a1bc0ffee","messageID":"msg_01","type":"text","text":"There is one file, README.md.","time":{"start":1761998402000,"end":1761998403900}}}
{"type":"step_finish","timestamp":1761998403950,"sessionID":"ses_6a1bc0ffee","part":{"id":"prt_04","sessionID":"ses_6a1bc0ffee","messageID":"msg_01","type":"step-finish","reason":"stop","cost":0,"tokens":{"input":11873,"output":41,"reasoning":0,"cache":{"read":0,"write":0}}}}
"""

OPENCODE_RATE_LIMITED = """{"type":"step_start","timestamp":1761998400000,"sessionID":"ses_77","part":{"id":"prt_01","type":"step-start"}}
{"type":"error","timestamp":1761998400900,"sessionID":"ses_77","error":{"name":"APIError","data":{"message":"Rate limit exceeded: free-models-per-day","statusCode":429,"isRetryable":true}}}
"""

CLINE_OK = """{"type":"say","say":"task","text":"Write hello.txt with a greeting","ts":1761998400001}
{"type":"say","say":"api_req_started","text":"{\\"request\\":\\"<task>Write hello.txt</task>\\",\\"tokensIn\\":1520,\\"tokensOut\\":88,\\"cost\\":0.0061}","ts":1761998400100}
{"type":"say","say":"text","text":"I'll create the file.","partial":false,"ts":1761998401800}
{"type":"ask","ask":"tool","text":"{\\"tool\\":\\"newFileCreated\\",\\"path\\":\\"hello.txt\\",\\"content\\":\\"Hello!\\"}","ts":1761998402000}
{"type":"say","say":"completion_result","text":"Created hello.txt containing a greeting.","partial":false,"ts":1761998403000}
"""
CLINE_ERROR = """{"type":"say","say":"task","text":"Write hello.txt","ts":1761998400001}
{"type":"say","say":"error","text":"429 Too Many Requests: rate limit exceeded for model","ts":1761998400500}
"""

GOOSE_OK = """{"response": "Renamed `util.py` to `helpers.py` and updated 3 imports.", "metadata": {"total_tokens": 5210, "status": "completed"}}
"""

AIDER_OK = """Aider v0.86.1
Main model: anthropic/claude-sonnet-4-20250514 with diff edit format, infinite output
Weak model: anthropic/claude-3-5-haiku-20241022
Git repo: .git with 12 files
Repo-map: using 4096 tokens, auto refresh

I'll add the docstring to `add()`.

greet.py
<<<<<<< SEARCH
def add(a, b):
=======
def add(a, b):
    \"\"\"Return the sum of a and b.\"\"\"
>>>>>>> REPLACE

Applied edit to greet.py
Commit 3f2a1bc docs: add docstring to add()
Tokens: 2.3k sent, 120 received. Cost: $0.0087 message, $0.0087 session.
"""
AIDER_NO_KEY_STDERR = """Missing these environment variables:
- ANTHROPIC_API_KEY
You can skip this check with --no-show-model-warnings
"""

CRUSH_OK = "Done. I added a `--verbose` flag to main.go and a test for it.\n"

LLM_OK = "Paris is the capital of France.\n"
LLM_NO_KEY_STDERR = (
    "Error: No key found - add one using 'llm keys set openai' or set the "
    "OPENAI_API_KEY environment variable\n"
)
