"""The open default avatar in Blender: an armature (MakeHuman's game-engine rig) with a skinned,
textured child mesh whose face shape keys follow the ARKit weights.

:func:`build_avatar` reads the cache written by :mod:`..inference.avatar.convert` (numpy arrays:
mesh, rig, weights, expression units, skin masks) and makes everything in bulk (``foreach_set``).
The armature carries the 52 ARKit custom properties (0..1), the same names the SMPL-X armature
carries, and every expression unit's shape key has a driver ``Σ weight · property`` from the
documented table (:mod:`..inference.avatar.arkit_units`), so keying the properties (a bake, the
live link) moves the face. Drivers use simple arithmetic only, which Blender evaluates without
running Python (no auto-run needed). The armature is tagged with the retargeter's profile name.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import numpy as np

from ..inference.avatar.arkit_units import unit_channels
from ..inference.avatar.convert import load_cache, texture
from ..inference.core.layout import ARKIT_NAMES
from .armature import edit_bones

AVATAR_NAME = "Avatar"
#: Custom properties on the armature: the retarget profile and the data's licence.
PROFILE_PROP = "mocap_profile"
LICENCE_PROP = "mocap_licence"
#: Linear skin colours of the material (medium skin tone, lips, eyelid shadow, nails).
SKIN = (0.62, 0.36, 0.25, 1.0)
LIPS = (0.42, 0.14, 0.12, 1.0)
LIDS = (0.45, 0.24, 0.17, 1.0)
NAILS = (0.78, 0.55, 0.48, 1.0)
MOUTH = (0.55, 0.50, 0.46, 1.0)
#: Eye colours by the cosine of the angle from the eye's forward axis (pupil, iris edge, sclera).
PUPIL_COS, IRIS_COS = 0.982, 0.88
IRIS = (0.10, 0.16, 0.22, 1.0)
SCLERA = (0.80, 0.78, 0.74, 1.0)
EYE_ATTR = "eye_forward"


def build_avatar(context: bpy.types.Context, cache_path: str | Path, name: str = AVATAR_NAME,
                 collection=None) -> bpy.types.Object:
    """Armature object (rig bones at their rest positions, tagged with the profile) with the
    skinned body mesh as its child; returns the armature."""
    data = load_cache(cache_path)
    arm = _armature(context, data, name, collection)
    body = _mesh(context, data, arm, collection)
    _add_arkit_properties(arm)
    _face_shape_keys(body, data)
    _drive_shape_keys(body, arm)
    body.data.materials.append(_skin_material(data, name))
    body.data.materials.append(_eye_material(name))
    body.data.materials.append(_plain_material(f"{name}_mouth", MOUTH, 0.4))
    body.data.polygons.foreach_set("material_index", data["face_part"].astype(np.int32))
    body.data.update()
    # the first evaluation must see the armature's new properties, else the drivers are marked
    # invalid and never evaluated again
    arm.update_tag()
    context.view_layer.update()
    return arm


def _link(context, obj, collection) -> None:
    (collection or getattr(context, "collection", None) or context.scene.collection).objects.link(obj)


def _armature(context, data, name, collection) -> bpy.types.Object:
    arm_data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, arm_data)
    _link(context, arm, collection)
    arm[PROFILE_PROP] = str(data["meta_profile"])
    arm[LICENCE_PROP] = str(data["meta_licence"])
    arm_data.display_type = "STICK"
    arm.show_in_front = True
    def edit(ebones):
        made = []
        for i, bone in enumerate(data["bone_names"]):
            eb = ebones.new(str(bone))
            eb.head, eb.tail = data["bone_head"][i].tolist(), data["bone_tail"][i].tolist()
            eb.roll = float(data["bone_roll"][i])
            eb.use_deform = True
            parent = int(data["bone_parent"][i])
            if parent >= 0:
                eb.parent = made[parent]
                eb.use_connect = bool(data["bone_connect"][i])
            made.append(eb)
    edit_bones(context, arm, edit)
    return arm


def _mesh(context, data, arm, collection) -> bpy.types.Object:
    verts, faces = data["verts"], data["faces"].astype(np.int32)
    mesh = bpy.data.meshes.new(f"{arm.name}_body")
    mesh.vertices.add(len(verts))
    mesh.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    corners = faces.shape[1]
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, corners, dtype=np.int32))
    mesh.update()
    uv = mesh.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", data["uvs"].astype(np.float32).ravel())
    if hasattr(mesh, "shade_smooth"):           # 4.1+
        mesh.shade_smooth()
    else:
        mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), bool))
    _eye_attribute(mesh, data)
    obj = bpy.data.objects.new(f"{arm.name}_body", mesh)
    _link(context, obj, collection)
    obj.parent = arm
    names = [str(b) for b in data["bone_names"]]
    groups = [obj.vertex_groups.new(name=n) for n in names]
    vid, bid, val = data["weight_vertex"], data["weight_bone"], data["weight_value"]
    for b, vg in enumerate(groups):                      # one add() per distinct weight of a bone
        sel = bid == b
        if not sel.any():
            continue
        values, inverse = np.unique(val[sel], return_inverse=True)
        vs = vid[sel]
        for k, value in enumerate(values.tolist()):
            vg.add(vs[inverse == k].tolist(), value, "REPLACE")
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    mod.use_vertex_groups = True
    sub = obj.modifiers.new("Subdivision", "SUBSURF")    # smooth at render time only
    sub.levels, sub.render_levels = 0, 1
    return obj


def _eye_attribute(mesh, data) -> None:
    """Per-vertex cosine between each eye vertex's direction from its eye's centre and the gaze
    (-Y): the eye shader draws pupil, iris and sclera from it (the wheel ships no eye texture)."""
    verts, faces, part = data["verts"], data["faces"], data["face_part"]
    eye_parts = list(data["part_names"]).index("eyes")
    eye_v = np.unique(faces[part == eye_parts])
    value = np.zeros(len(verts), np.float32)
    for side in (eye_v[verts[eye_v, 0] > 0], eye_v[verts[eye_v, 0] < 0]):
        centre = verts[side].mean(axis=0)
        d = verts[side] - centre
        value[side] = -d[:, 1] / np.maximum(np.linalg.norm(d, axis=1), 1e-9)
    attr = mesh.attributes.new(EYE_ATTR, "FLOAT", "POINT")
    attr.data.foreach_set("value", value)


def _add_arkit_properties(arm) -> None:
    for n in ARKIT_NAMES:
        arm[n] = 0.0
        arm.id_properties_ui(n).update(default=0.0, min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                                       description=f"ARKit blendshape weight {n}")
        arm.property_overridable_library_set(f'["{n}"]', True)


def _face_shape_keys(obj, data) -> None:
    base = data["verts"].astype(np.float32)
    obj.shape_key_add(name="Basis", from_mix=False)
    ptr = data["unit_ptr"]
    for i, unit in enumerate(data["unit_names"]):
        co = base.copy()
        s = slice(ptr[i], ptr[i + 1])
        co[data["unit_vertex"][s]] += data["unit_delta"][s]
        kb = obj.shape_key_add(name=str(unit), from_mix=False)
        kb.slider_min, kb.slider_max = 0.0, 2.0
        kb.data.foreach_set("co", co.ravel())
        kb.value = 0.0


def _drive_shape_keys(obj, arm) -> None:
    """Each driven unit's key value = Σ w · arm["<ARKit>"] (a simple expression: no Python runs)."""
    blocks = obj.data.shape_keys.key_blocks
    for unit, terms in unit_channels().items():
        fcurve = blocks[unit].driver_add("value")
        drv = fcurve.driver
        drv.type = "SCRIPTED"
        for k, (channel, _w) in enumerate(terms):
            var = drv.variables.new()
            var.name = f"a{k}"
            var.type = "SINGLE_PROP"
            var.targets[0].id = arm
            var.targets[0].data_path = f'["{channel}"]'
        drv.expression = " + ".join(f"{w:g}*a{k}" for k, (_c, w) in enumerate(terms))


def set_arkit(arm: bpy.types.Object, weights: dict[str, float]) -> None:
    """Set ARKit properties by name (the drivers move the face on the next depsgraph update)."""
    for n, w in weights.items():
        arm[n] = float(w)
    arm.update_tag()


# ---------------------------------------------------------------------------- materials
def _nodes(name: str):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True                       # always on from 5.0 (the switch is deprecated there)
    nt = mat.node_tree
    bsdf = next(n for n in nt.nodes if n.type == "BSDF_PRINCIPLED")
    return mat, nt, bsdf


def _mix(nt, fac, a, b):
    """A colour mix node (``ShaderNodeMix``, RGBA): returns its colour output."""
    m = nt.nodes.new("ShaderNodeMix")
    m.data_type = "RGBA"
    sock = {s.identifier: s for s in m.inputs}
    nt.links.new(fac, sock["Factor_Float"])
    for key, value in (("A_Color", a), ("B_Color", b)):
        if isinstance(value, tuple):
            sock[key].default_value = value
        else:
            nt.links.new(value, sock[key])
    return next(s for s in m.outputs if s.identifier == "Result_Color")


def _mask_image(data, texture_name: str, material_name: str):
    """The JPEG mask from the cache as a packed image (the .blend carries it)."""
    blob = texture(data, texture_name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mpfb_{texture_name}.jpg"
        path.write_bytes(blob)
        img = bpy.data.images.load(str(path))
        img.pack()
    img.name = f"{material_name}_{texture_name}"
    img.colorspace_settings.name = "Non-Color"
    return img


def _skin_material(data, name: str):
    """Principled BSDF: skin tone, lips, eyelids and nails from MakeHuman's UV masks, a little
    subsurface scattering."""
    mat, nt, bsdf = _nodes(f"{name}_skin")
    colour = None
    for tex, tint, strength in (("lips", LIPS, 1.0), ("eyelids", LIDS, 0.6),
                                ("fingernails", NAILS, 1.0), ("toenails", NAILS, 1.0)):
        node = nt.nodes.new("ShaderNodeTexImage")
        node.image = _mask_image(data, tex, mat.name)
        fac = node.outputs["Color"]
        if strength != 1.0:
            scale = nt.nodes.new("ShaderNodeMath")
            scale.operation = "MULTIPLY"
            nt.links.new(fac, scale.inputs[0])
            scale.inputs[1].default_value = strength
            fac = scale.outputs[0]
        colour = _mix(nt, fac, SKIN if colour is None else colour, tint)
    nt.links.new(colour, bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.5
    for key, value in (("Subsurface Weight", 0.15), ("Subsurface Scale", 0.01)):
        if key in bsdf.inputs:
            bsdf.inputs[key].default_value = value
    return mat


def _eye_material(name: str):
    mat, nt, bsdf = _nodes(f"{name}_eyes")
    attr = nt.nodes.new("ShaderNodeAttribute")
    attr.attribute_name = EYE_ATTR
    ramp = nt.nodes.new("ShaderNodeValToRGB")
    els = ramp.color_ramp.elements
    els[0].position, els[0].color = IRIS_COS - 0.01, SCLERA
    els[1].position, els[1].color = IRIS_COS, IRIS
    e = els.new(PUPIL_COS - 0.005)
    e.color = IRIS
    e = els.new(PUPIL_COS)
    e.color = (0.01, 0.01, 0.01, 1.0)
    nt.links.new(attr.outputs["Fac"], ramp.inputs["Fac"])
    nt.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.08
    return mat


def _plain_material(name: str, colour, roughness: float):
    mat, _nt, bsdf = _nodes(name)
    bsdf.inputs["Base Color"].default_value = colour
    bsdf.inputs["Roughness"].default_value = roughness
    return mat
