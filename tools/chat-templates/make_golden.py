"""Renders chat templates with Python's Jinja2 in the environment transformers uses for apply_chat_template
(trim_blocks, lstrip_blocks, loop controls, its tojson and raise_exception), writing the golden file that
tests/GptBert.Tests/Tokenizers/ChatTemplateTests.cs compares GptBert's ChatTemplate against.

    python3 tools/chat-templates/make_golden.py   # needs jinja2 (3.1.6 was used)
"""
import json, os
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

TEMPLATES = {
    "default-gpt2": "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    "zephyr": "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
    "llama2": "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    "mistral": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
    "gemma": "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
    "phi3": "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
    "namespace-and-filters": """{%- set ns = namespace(found=false, count=0) -%}
{%- for message in messages -%}
    {%- if message.role == 'system' -%}{%- set ns.found = true -%}{%- endif -%}
    {%- set ns.count = ns.count + 1 -%}
{%- endfor -%}
{%- if not ns.found -%}{{ 'You are a helpful assistant.' | upper }}{{ '\\n' }}{%- endif -%}
{%- for message in messages if message.role != 'system' -%}
  [{{ loop.index }}/{{ loop.length }}] {{ message.role | capitalize }}: {{ message.content | trim }}{% if not loop.last %} | {% endif %}
{%- endfor %}
{{ ns.count }} messages; users: {{ messages | selectattr('role', 'equalto', 'user') | list | length }}
{{ messages | map(attribute='role') | join(',') }}
{{ {'a': 1, 'b': [true, none, 'x\u00e9']} | tojson }}
{% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v }}{{ ', ' if not loop.last else '' }}{% endfor %}
{{ messages[-1]['content'][:5] ~ '...' }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 'abc' if messages | length > 2 else 'xyz' }}
{% if messages[0].missing is defined %}defined{% else %}undefined{% endif %} {{ messages[0].missing | default('dflt') }}
{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{% if m.role == 'user' %}{% continue %}{% endif %}<{{ m.role }}>{% endfor %}
  {# a comment on its own line #}
  {% if true %}
    indented
  {% endif %}
{{- '  stripped  ' -}}
{{ "it's" + ' "quoted"' }} {{ 'a,b,,c'.split(',') }} {{ '  x  '.strip() }}{{ 'Hello'.startswith('He') }} {{ 3 / 2 }} {{ none }} {{ [1, 2] + [3] }}
""",
}

CONVERSATIONS = {
    "user-only": [{"role": "user", "content": "Hello, who are you?"}],
    "with-system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "  What is 2+2?  "},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3? Ünïcödé ✓"},
    ],
    "alternating": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke.\nA short one."},
    ],
}

cases = []
for tname, src in TEMPLATES.items():
    for cname, msgs in CONVERSATIONS.items():
        for gen in (True, False):
            try:
                out = env.from_string(src).render(messages=msgs, add_generation_prompt=gen, bos_token="<s>", eos_token="</s>")
                cases.append({"template": tname, "conversation": cname, "add_generation_prompt": gen, "output": out})
            except jinja2.exceptions.TemplateError as e:
                cases.append({"template": tname, "conversation": cname, "add_generation_prompt": gen, "error": str(e)})

out_path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "GptBert.Tests", "Tokenizers", "chat-template-golden.json")
with open(out_path, "w", encoding="utf-8") as f:
    json.dump({"generator": "tools/chat-templates/make_golden.py", "jinja2": jinja2.__version__, "bos_token": "<s>", "eos_token": "</s>",
               "templates": TEMPLATES, "conversations": CONVERSATIONS, "cases": cases}, f, ensure_ascii=False, indent=1)
print(f"{len(cases)} cases -> {os.path.normpath(out_path)}")
